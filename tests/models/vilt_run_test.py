"""ViLT through the whole loop: `model.arch = "vilt"` with the tiny ViLT
classification checkpoints of tests/fixtures/vilt_golden (their tokenizer
too) trains, unlearns and evaluates on the embedded NLVR2-style dataset;
its config and the dataset's layout (images per example, classes) are
checked against the checkpoint before any compute. The whole run is in the
slow suite; the default suite checks the loaded parameters and the
refusals."""

import json
import os
import subprocess

import numpy as np
import pytest
import script_checks

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import vilt_weights
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import run as run_lib

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "fixtures", "vilt_golden")
NLVR2 = os.path.join(GOLDEN, "nlvr2", "hf")
VE = os.path.join(GOLDEN, "ve", "hf")


def _config(tiny_config, data_dir, checkpoint=NLVR2, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "shapes_nlvr2"
  c.model.arch = "vilt"
  c.model.pretrained = checkpoint
  c.model.update(vilt_weights.model_keys(checkpoint))
  c.model.context_length = 12
  c.data.mean, c.data.std = (0.5,) * 3, (0.5,) * 3  # ViLT's
  c.update_from_flattened_dict(changes)
  return c


@pytest.mark.slow  # about a minute: compiling ViLT's passes
def test_mmul_runs_on_vilt(tmp_path, tiny_config, data_dir):
  results = run_lib.run(_config(tiny_config, data_dir), str(tmp_path))
  assert set(results.models) == {"original", "retrained", "mmul"}
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/accuracy"] <= 100
    assert 0 <= m.metrics["auc/p_true/mean"] <= 1
  model = results.config["model"]
  assert model["arch"] == "vilt" and model["pretrained"] == NLVR2


def test_the_original_starts_from_the_checkpoint(tiny_config, data_dir,
                                                 tmp_path):
  exp = experiment.setup(_config(tiny_config, data_dir), str(tmp_path))
  params = experiment.initial_params(exp, 0)["params"]
  state = clip_weights.read_state_dict(NLVR2)
  np.testing.assert_array_equal(params["classifier_3"]["kernel"],
                                state["classifier.3.weight"].T)
  np.testing.assert_array_equal(
      params["vilt"]["encoder"]["layer_1"]["attention"]["attention"]["key"]
      ["kernel"],
      state["vilt.encoder.layer.1.attention.attention.key.weight"].T)
  np.testing.assert_array_equal(
      params["vilt"]["embeddings"]["token_type_embeddings"]["embedding"],
      state["vilt.embeddings.token_type_embeddings.weight"])


def test_a_config_that_differs_from_the_checkpoint_is_refused(
    tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"model.fusion_layers": 3})
  with pytest.raises(errors.ConfigError,
                     match="model.fusion_layers = 3 but the checkpoint has 2"):
    experiment.setup(c, str(tmp_path))


def test_a_checkpoint_of_another_task_layout_is_refused(
    tiny_config, data_dir, tmp_path):
  """The one-image, three-class checkpoint on two-image NLVR2."""
  c = _config(tiny_config, data_dir, VE)
  with pytest.raises(errors.ConfigError,
                     match=r"1 image\(s\) into 3 classes; this dataset's "
                     r"have 2 image\(s\) and 2 classes"):
    experiment.setup(c, str(tmp_path))


def test_vilt_is_for_classification(tiny_config, data_dir):
  c = _config(tiny_config, data_dir, **{"data.name": "shapes_captions"})
  with pytest.raises(errors.ConfigError, match="image\\(s\\)-and-text "
                     "classifier; shapes_captions is a retrieval dataset"):
    config_schema.validate(c)


MLM = os.path.join(GOLDEN, "mlm", "hf")


def test_multidelete_the_original_is_given_and_retraining_starts_pretrained(
    tiny_config, data_dir, tmp_path):
  """`model.original` is the task-fine-tuned checkpoint as is (no step);
  the retrained reference fine-tunes on Dr from the pretrained backbone
  (`model.pretrained`, no classifier)."""
  c = _config(tiny_config, data_dir, MLM, **{
      "model.original": NLVR2, "train.num_steps": 2,
      "train.warmup_steps": 0})
  exp = experiment.setup(c, str(tmp_path))
  original, info = phases.train_model(exp, "original")
  assert info["steps"] == 0 and info["checkpoint"] == NLVR2
  state = clip_weights.read_state_dict(NLVR2)
  np.testing.assert_array_equal(original["params"]["classifier_3"]["kernel"],
                                state["classifier.3.weight"].T)
  start = experiment.initial_params(exp, 0)["params"]
  mlm = clip_weights.read_state_dict(MLM)
  np.testing.assert_array_equal(
      start["vilt"]["pooler"]["dense"]["kernel"],
      mlm["vilt.pooler.dense.weight"].T)
  assert not np.array_equal(start["classifier_3"]["kernel"],
                            original["params"]["classifier_3"]["kernel"])
  retrained, info = phases.train_model(exp, "retrain")
  assert info["steps"] == 2
  # A rerun finds both finished.
  again, info = phases.train_model(exp, "original")
  assert info["steps"] == 0
  np.testing.assert_array_equal(again["params"]["classifier_3"]["kernel"],
                                state["classifier.3.weight"].T)


def test_the_original_must_hold_the_head(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"model.original": MLM})
  with pytest.raises(errors.ConfigError, match="backbone without the "
                     "task's head"):
    experiment.setup(c, str(tmp_path))


def test_a_clip_model_has_no_whole_checkpoint_to_take_as_the_original(
    tiny_config):
  c = tiny_config.copy_and_resolve_references()
  c.model.original = NLVR2
  with pytest.raises(errors.ConfigError, match="whole-model checkpoint"):
    config_schema.validate(c)


FAKE_NLVR2 = os.path.join(os.path.dirname(GOLDEN), "nlvr2")


def _recipe(tmp_path, *flags, timeout=120):
  return subprocess.run(
      script_checks.script(
          "unlearn", "vilt_nlvr2", f"--workdir={tmp_path / 'run'}",
          f"--config.data.data_dir={tmp_path / 'tfds'}",
          f"--config.data.manual_dir={FAKE_NLVR2}", *flags),
      capture_output=True, text=True, timeout=timeout,
      cwd=script_checks.ROOT, env=script_checks.env())


@pytest.mark.parametrize("missing,download", [
    ("pretrained", "huggingface-cli download dandelin/vilt-b32-mlm"),
    ("original",
     "huggingface-cli download dandelin/vilt-b32-finetuned-nlvr2")])
def test_the_recipe_without_a_checkpoint_says_how_to_get_it(
    tmp_path, missing, download):
  """The data are there (the fake NLVR2 download), a checkpoint is not:
  exit 2, one line with the download command, nothing computed."""
  given = {"pretrained": MLM, "original": NLVR2}
  given[missing] = str(tmp_path / "none")
  keys = {**vilt_weights.model_keys(NLVR2), "context_length": 12}
  r = _recipe(tmp_path, *(f"--config.model.{k}={v}"
                          for k, v in {**keys, **given}.items()))
  assert r.returncode == 2, r.stderr[-2000:]
  assert download in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: ViLT's passes compile
def test_the_nlvr2_recipe_runs_on_the_fake_download(tmp_path):
  keys = vilt_weights.model_keys(NLVR2)
  r = _recipe(
      tmp_path, *(f"--config.model.{k}={v}" for k, v in keys.items()),
      f"--config.model.pretrained={MLM}", f"--config.model.original={NLVR2}",
      "--config.data.image_size=32", "--config.model.context_length=12",
      "--config.deletion.count=3",
      "--config.train.batch_size=4", "--config.train.num_steps=4",
      "--config.train.warmup_steps=0", "--config.unlearn.num_steps=2",
      "--config.unlearn.df_batch_size=2", "--config.unlearn.dr_batch_size=4",
      "--config.eval.auc_num_samples=1", timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "vilt"
  assert set(results["models"]) == {"original", "retrained", "mmul"}
  info = json.load(open(tmp_path / "run" / "original" / "train_info.json"))
  assert info["steps"] == 0 and info["checkpoint"] == NLVR2

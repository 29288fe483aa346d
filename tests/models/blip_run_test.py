"""BLIP through the whole loop: `model.arch = "blip"` with the tiny BLIP
retrieval checkpoint of tests/fixtures/blip_golden (its tokenizer too)
trains, unlearns with MMUL and evaluates on the embedded retrieval
dataset; its config is checked against the checkpoint before any
compute; the Hugging Face checkpoint as the original with BLIP's own
.pth as the retrained reference's start (MultiDelete's split). The whole
runs are in the slow suite; the default suite checks the loaded
parameters and the refusals."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import blip_weights
from mmul_jax.unlearn import run as run_lib

HF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "fixtures", "blip_golden", "hf")
# The same weights in BLIP's own .pth layout, as the pretrained files.
PTH = os.path.join(os.path.dirname(HF), "original", "model_base.pth")


def _config(tiny_config, data_dir, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.model.arch = "blip"
  c.model.pretrained = HF
  c.model.update(blip_weights.model_keys(HF))
  c.model.context_length = 12
  c.eval.rerank_k = 4
  c.update_from_flattened_dict(changes)
  return c


@pytest.mark.slow  # about a minute: compiling BLIP's passes
def test_mmul_runs_on_blip(tmp_path, tiny_config, data_dir):
  c = _config(tiny_config, data_dir)
  results = run_lib.run(c, str(tmp_path))
  assert set(results.models) == {"original", "retrained", "mmul"}
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/itc/r1_mean"] <= 100
      assert 0 <= m.metrics[f"{split}/itm/r1_mean"] <= 100
    assert 0 <= m.metrics["auc/cosine/mean"] <= 1
  model = results.config["model"]
  assert model["arch"] == "blip" and model["pretrained"] == HF


def test_the_original_starts_from_the_checkpoint(tiny_config, data_dir,
                                                 tmp_path):
  exp = experiment.setup(_config(tiny_config, data_dir), str(tmp_path))
  params = experiment.initial_params(exp, 0)["params"]
  state = blip_weights.clip_weights.read_state_dict(HF)
  np.testing.assert_array_equal(
      params["itm_head"]["kernel"], state["itm_head.weight"].T)
  np.testing.assert_array_equal(
      params["text_encoder"]["encoder"]["layer_1"]["crossattention"]["self"]
      ["key"]["kernel"],
      state["text_encoder.encoder.layer.1.crossattention.self.key.weight"].T)


def test_a_config_that_differs_from_the_checkpoint_is_refused(
    tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"model.text_layers": 3})
  with pytest.raises(errors.ConfigError,
                     match="model.text_layers = 3 but the checkpoint has 2"):
    experiment.setup(c, str(tmp_path))


@pytest.mark.slow  # a whole setup (default-suite time)
def test_the_original_given_and_retraining_from_blips_own_file(
    tiny_config, data_dir, tmp_path):
  """MultiDelete's split: the Hugging Face retrieval checkpoint is the
  original as is, BLIP's own .pth (here the same weights with `temp`
  0.05) starts the retrained reference, its temperature as the logit
  scale."""
  c = _config(tiny_config, data_dir, **{"model.original": HF,
                                        "model.pretrained": PTH})
  exp = experiment.setup(c, str(tmp_path))
  start = experiment.initial_params(exp, 0)["params"]
  original = experiment.initial_params(exp, 0, c.model.original)["params"]
  np.testing.assert_allclose(np.exp(start["logit_scale"]), 20.0, rtol=1e-5)
  assert not np.allclose(np.exp(original["logit_scale"]), 20.0)
  np.testing.assert_array_equal(start["itm_head"]["kernel"],
                                original["itm_head"]["kernel"])


def test_blip_is_for_retrieval(tiny_config, data_dir):
  c = _config(tiny_config, data_dir, **{"data.name": "shapes_ve"})
  with pytest.raises(errors.ConfigError, match="retrieval model"):
    config_schema.validate(c)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
COCO = os.path.join(ROOT, "tests", "fixtures", "coco_karpathy")
FLICKR = os.path.join(ROOT, "tests", "fixtures", "flickr30k_karpathy")


def _unlearn_script(tmp_path, config, *flags, timeout=120):
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", "unlearn.py"),
       f"--config={os.path.join(ROOT, 'configs', config)}",
       f"--workdir={tmp_path / 'run'}",
       f"--config.data.data_dir={tmp_path / 'tfds'}", *flags],
      capture_output=True, text=True, timeout=timeout, cwd=ROOT,
      env=dict(os.environ, PYTHONPATH=ROOT))


@pytest.mark.parametrize("config,missing,where", [
    ("blip_coco.py", "original",
     "huggingface-cli download Salesforce/blip-itm-base"),
    ("blip_flickr30k.py", "pretrained",
     "wget https://storage.googleapis.com/sfr-vision-language-research/"
     "BLIP/models/model_base_capfilt_large.pth")])
def test_a_recipe_without_a_checkpoint_says_how_to_get_it(
    tmp_path, config, missing, where):
  """The data are there (the fake COCO download), a checkpoint is not:
  exit 2, one line with the download command, nothing computed."""
  given = {"original": HF, "pretrained": PTH}
  given[missing] = str(tmp_path / {
      "original": "none", "pretrained": "model_base_capfilt_large.pth"}[
          missing])
  keys = blip_weights.model_keys(HF)
  r = _unlearn_script(tmp_path, config, f"--config.data.manual_dir={COCO}",
                      "--config.data.name=coco_karpathy",
                      "--config.data.image_size=32",
                      "--config.model.context_length=12",
                      *(f"--config.model.{k}={v}" for k, v in keys.items()),
                      *(f"--config.model.{k}={v}" for k, v in given.items()))
  assert r.returncode == 2, r.stderr[-2000:]
  assert where in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes each: BLIP's passes compile
@pytest.mark.parametrize("config,download", [("blip_coco.py", COCO),
                                             ("blip_flickr30k.py", FLICKR)])
def test_the_recipe_runs_on_the_fake_download(tmp_path, config, download):
  keys = blip_weights.model_keys(HF)
  flags = [f"--config.model.{k}={v}" for k, v in keys.items()]
  r = _unlearn_script(
      tmp_path, config, *flags, f"--config.model.pretrained={PTH}",
      f"--config.model.original={HF}",
      f"--config.data.manual_dir={download}", "--config.data.image_size=32",
      "--config.model.context_length=12", "--config.deletion.count=2",
      "--config.train.batch_size=4", "--config.train.num_steps=4",
      "--config.train.warmup_steps=0", "--config.unlearn.num_steps=2",
      "--config.unlearn.df_batch_size=2", "--config.unlearn.dr_batch_size=4",
      "--config.eval.max_dr_images=0", "--config.eval.rerank_k=4",
      "--config.eval.auc_num_samples=1", timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "blip"
  assert set(results["models"]) == {"original", "retrained", "mmul"}
  info = json.load(open(tmp_path / "run" / "original" / "train_info.json"))
  assert info["steps"] == 0 and info["checkpoint"] == HF

"""ALBEF through the whole loop: `model.arch = "albef"` with the tiny
ALBEF checkpoint of tests/fixtures/albef_golden (its tokenizer too)
trains, unlearns with MMUL and evaluates on the embedded retrieval
dataset; its config is checked against the checkpoint before any
compute; configs/albef_flickr30k.py, albef_snli_ve.py and albef_nlvr2.py
say where to get a missing checkpoint. The same for the SNLI-VE and NLVR2
classifiers on the embedded one- and two-image datasets. The whole runs
are in the slow suite."""

import json
import os
import subprocess

import albef_checkpoints
import numpy as np
import pytest
import script_checks

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import albef_weights
from mmul_jax.unlearn import run as run_lib

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "fixtures")
CKPT = os.path.join(FIXTURES, "albef_golden", "retrieval", "albef.pth")
FLICKR = os.path.join(FIXTURES, "flickr30k_karpathy")


def _config(tiny_config, data_dir, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.model.arch = "albef"
  c.model.pretrained = CKPT
  c.model.update(albef_weights.model_keys(CKPT))
  c.model.context_length = 16
  c.eval.rerank_k = 4
  c.update_from_flattened_dict(changes)
  return c


@pytest.mark.slow  # about a minute: compiling ALBEF's passes
def test_mmul_runs_on_albef(tmp_path, tiny_config, data_dir):
  results = run_lib.run(_config(tiny_config, data_dir), str(tmp_path))
  assert set(results.models) == {"original", "retrained", "mmul"}
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/itm/r1_mean"] <= 100
    assert 0 <= m.metrics["auc/cosine/mean"] <= 1


def test_the_original_starts_from_the_checkpoint(tiny_config, data_dir,
                                                 tmp_path):
  exp = experiment.setup(_config(tiny_config, data_dir), str(tmp_path))
  params = experiment.initial_params(exp, 0)["params"]
  state = albef_weights.read_state(CKPT)
  np.testing.assert_array_equal(params["itm_head"]["kernel"],
                                state["itm_head.weight"].T)
  np.testing.assert_array_equal(
      params["text_encoder"]["encoder"]["layer_1"]["crossattention"]["self"]
      ["key"]["kernel"],
      state["text_encoder.encoder.layer.1.crossattention.self.key.weight"].T)
  assert "crossattention" not in params["text_encoder"]["encoder"]["layer_0"]


def test_a_config_that_differs_from_the_checkpoint_is_refused(
    tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"model.fusion_layers": 2})
  with pytest.raises(errors.ConfigError,
                     match="model.fusion_layers = 2 but the checkpoint has 1"):
    experiment.setup(c, str(tmp_path))


def test_albef_reads_one_or_two_images_per_example(tiny_config, data_dir,
                                                  tmp_path):
  """Two images need the NLVR2 model's paired fusion layers: an even
  number in the config, a checkpoint whose pairs share key and value."""
  c = _config(tiny_config, data_dir, **{"data.name": "shapes_nlvr2"})
  with pytest.raises(errors.ConfigError, match="fusion_layers = 1: ALBEF's "
                     "NLVR2 model pairs"):
    config_schema.validate(c)
  c.model.fusion_layers = 2
  with pytest.raises(errors.ConfigError, match="is not ALBEF's NLVR2 model"
                     ".*pretrain_model_nlvr.pth"):
    experiment.setup(c, str(tmp_path))
  c = _config(tiny_config, data_dir, **{"data.name": "molecule_text"})
  with pytest.raises(errors.ConfigError, match="retrieval model"):
    config_schema.validate(c)


def _ve_config(tiny_config, data_dir, tmp_path, **changes):
  """The classifier on the embedded SNLI-VE-style dataset, the SNLI-VE
  checkpoint the original, the retrieval one the pretrained start."""
  keys = albef_weights.model_keys(CKPT)
  keys.pop("embed_dim")
  return _config(tiny_config, data_dir, **{
      "data.name": "shapes_ve",
      "model.original": albef_checkpoints.ve_checkpoint(tmp_path / "ve"),
      **{f"model.{k}": v for k, v in keys.items()}, **changes})


def test_snli_ve_the_original_is_given_and_retraining_starts_pretrained(
    tiny_config, data_dir, tmp_path):
  c = _ve_config(tiny_config, data_dir, tmp_path)
  exp = experiment.setup(c, str(tmp_path / "run"))
  assert type(exp.model).__name__ == "AlbefClassifier"
  start = experiment.initial_params(exp, 0)["params"]
  original = experiment.initial_params(exp, 0, c.model.original)["params"]
  ve = albef_weights.read_state(c.model.original)
  np.testing.assert_array_equal(original["cls_head_2"]["kernel"],
                                ve["cls_head.2.weight"].T)
  assert not np.array_equal(start["cls_head_2"]["kernel"],
                            original["cls_head_2"]["kernel"])
  np.testing.assert_array_equal(
      start["visual_encoder"]["norm"]["scale"],
      original["visual_encoder"]["norm"]["scale"])


def test_snli_ve_refuses_a_backbone_as_the_original(tiny_config, data_dir,
                                                   tmp_path):
  c = _ve_config(tiny_config, data_dir, tmp_path,
                 **{"model.original": CKPT})
  with pytest.raises(errors.ConfigError, match="without the task's head"):
    experiment.setup(c, str(tmp_path / "run"))


@pytest.mark.slow  # about a minute: compiling ALBEF's passes
def test_mmul_runs_on_the_albef_classifier(tiny_config, data_dir, tmp_path):
  c = _ve_config(tiny_config, data_dir, tmp_path)
  results = run_lib.run(c, str(tmp_path / "run"))
  assert set(results.models) == {"original", "retrained", "mmul"}
  for m in results.models.values():
    assert 0 <= m.metrics["test/accuracy"] <= 100


def _nlvr_config(tiny_config, data_dir, tmp_path, **changes):
  """The NLVR2 model on the embedded two-image dataset: the golden NLVR2
  checkpoint the original, its text-assignment form the pretrained start."""
  keys = albef_weights.model_keys(albef_checkpoints.NLVR)
  c = _config(tiny_config, data_dir, **{
      "data.name": "shapes_nlvr2",
      "model.original": albef_checkpoints.NLVR,
      **{f"model.{k}": v for k, v in keys.items()}, **changes})
  c.model.pretrained = albef_checkpoints.nlvr_pretrained(tmp_path / "ta")
  return c


@pytest.mark.slow  # a whole setup each (default-suite time)
def test_nlvr2_the_original_is_given_and_retraining_starts_pretrained(
    tiny_config, data_dir, tmp_path):
  c = _nlvr_config(tiny_config, data_dir, tmp_path)
  exp = experiment.setup(c, str(tmp_path / "run"))
  assert exp.model.num_images == 2 and exp.model.fusion_layers == 4
  start = experiment.initial_params(exp, 0)["params"]
  original = experiment.initial_params(exp, 0, c.model.original)["params"]
  state = albef_weights.read_state(c.model.original)
  np.testing.assert_array_equal(original["cls_head_0"]["kernel"],
                                state["cls_head.0.weight"].T)
  assert not np.array_equal(start["cls_head_0"]["kernel"],
                            original["cls_head_0"]["kernel"])
  shared = lambda p: p["text_encoder"]["encoder"]["layer_4"][
      "crossattention"]["self"]["key"]["kernel"]
  np.testing.assert_array_equal(shared(start), shared(original))


@pytest.mark.slow  # a whole setup each (default-suite time)
def test_nlvr2_refuses_a_one_image_checkpoint_and_the_other_way(
    tiny_config, data_dir, tmp_path):
  c = _nlvr_config(tiny_config, data_dir, tmp_path)
  c.model.original = albef_checkpoints.ve_checkpoint(tmp_path / "ve")
  with pytest.raises(errors.ConfigError, match="is not ALBEF's NLVR2"):
    experiment.setup(c, str(tmp_path / "run"))
  c = _ve_config(tiny_config, data_dir, tmp_path,
                 **{"model.original": albef_checkpoints.NLVR})
  with pytest.raises(errors.ConfigError, match="is ALBEF's NLVR2 model "
                     r"\(two images per example\); this dataset has one"):
    experiment.setup(c, str(tmp_path / "run2"))


@pytest.mark.slow  # about a minute: compiling ALBEF's passes
def test_mmul_runs_on_the_albef_nlvr2_model(tiny_config, data_dir, tmp_path):
  results = run_lib.run(_nlvr_config(tiny_config, data_dir, tmp_path),
                        str(tmp_path / "run"))
  assert set(results.models) == {"original", "retrained", "mmul"}
  for m in results.models.values():
    assert 0 <= m.metrics["test/accuracy"] <= 100


SNLI_VE = os.path.join(FIXTURES, "snli_ve")
NLVR2 = os.path.join(FIXTURES, "nlvr2")


def _recipe(tmp_path, *flags, config="albef_flickr30k", data=FLICKR,
            timeout=120):
  return subprocess.run(
      script_checks.script(
          "unlearn", config, f"--workdir={tmp_path / 'run'}",
          f"--config.data.data_dir={tmp_path / 'tfds'}",
          f"--config.data.manual_dir={data}", *flags),
      capture_output=True, text=True, timeout=timeout,
      cwd=script_checks.ROOT, env=script_checks.env())


def _tiny_flags(ckpt=CKPT):
  keys = {**albef_weights.model_keys(ckpt), "context_length": 16}
  return [f"--config.model.{k}={v}" for k, v in keys.items()] + [
      "--config.data.image_size=32"]


@pytest.mark.parametrize("missing,where", [
    ("pretrained", "sfr-pcl-data-research/ALBEF/ALBEF.pth"),
    ("original", "wget https://storage.googleapis.com/sfr-vision-language-"
                 "research/LAVIS/models/ALBEF/albef_coco_retrieval_lavis.pt")])
def test_the_recipe_without_a_checkpoint_says_where_to_get_it(
    tmp_path, missing, where):
  """The data are there (the fake Flickr30K download), a checkpoint is
  not: exit 2, one line naming where to get it, nothing computed."""
  given = {"pretrained": CKPT, "original": CKPT}
  given[missing] = str(tmp_path / "none.pth")
  r = _recipe(tmp_path, *_tiny_flags(),
              *(f"--config.model.{k}={v}" for k, v in given.items()))
  assert r.returncode == 2, r.stderr[-2000:]
  assert where in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: ALBEF's passes compile
def test_the_flickr_recipe_runs_on_the_fake_download(tmp_path):
  r = _recipe(
      tmp_path, *_tiny_flags(), f"--config.model.pretrained={CKPT}",
      f"--config.model.original={CKPT}", "--config.deletion.count=2",
      "--config.train.batch_size=4", "--config.train.num_steps=4",
      "--config.train.warmup_steps=0", "--config.unlearn.num_steps=2",
      "--config.unlearn.df_batch_size=2", "--config.unlearn.dr_batch_size=4",
      "--config.eval.max_dr_images=0", "--config.eval.rerank_k=4",
      "--config.eval.auc_num_samples=1", timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "albef"
  assert set(results["models"]) == {"original", "retrained", "mmul"}
  info = json.load(open(tmp_path / "run" / "original" / "train_info.json"))
  assert info["steps"] == 0 and info["checkpoint"] == CKPT


def test_the_snli_ve_recipe_without_its_original_says_where_to_get_it(
    tmp_path):
  r = _recipe(tmp_path, *_tiny_flags(),
              f"--config.model.pretrained={CKPT}",
              f"--config.model.original={tmp_path / 'none.pt'}",
              config="albef_snli_ve", data=SNLI_VE)
  assert r.returncode == 2, r.stderr[-2000:]
  assert "wget https://storage.googleapis.com/" in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: ALBEF's passes compile
def test_the_snli_ve_recipe_runs_on_the_fake_download(tmp_path):
  ve = albef_checkpoints.ve_checkpoint(tmp_path / "ve")
  r = _recipe(
      tmp_path, *_tiny_flags(), f"--config.model.pretrained={CKPT}",
      f"--config.model.original={ve}", "--config.deletion.count=3",
      "--config.train.batch_size=4", "--config.train.num_steps=4",
      "--config.train.warmup_steps=0", "--config.unlearn.num_steps=2",
      "--config.unlearn.df_batch_size=2", "--config.unlearn.dr_batch_size=4",
      "--config.eval.max_dr_images=0", "--config.eval.auc_num_samples=1",
      config="albef_snli_ve", data=SNLI_VE, timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "albef"
  assert set(results["models"]) == {"original", "retrained", "mmul"}


@pytest.mark.parametrize("missing,url", [
    pytest.param("pretrained",
                 "sfr-pcl-data-research/ALBEF/pretrain_model_nlvr.pth",
                 marks=pytest.mark.slow),  # the same path as the original's
    ("original", "LAVIS/models/ALBEF/albef_nlvr_lavis.pt")])
def test_the_nlvr2_recipe_without_a_checkpoint_says_where_to_get_it(
    tmp_path, missing, url):
  given = {"pretrained": albef_checkpoints.nlvr_pretrained(tmp_path / "ta"),
           "original": albef_checkpoints.NLVR}
  given[missing] = str(tmp_path / os.path.basename(url))
  r = _recipe(tmp_path, *_tiny_flags(albef_checkpoints.NLVR),
              *(f"--config.model.{k}={v}" for k, v in given.items()),
              config="albef_nlvr2", data=NLVR2)
  assert r.returncode == 2, r.stderr[-2000:]
  assert url in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: ALBEF's passes compile
def test_the_nlvr2_recipe_runs_on_the_fake_download(tmp_path):
  ta = albef_checkpoints.nlvr_pretrained(tmp_path / "ta")
  r = _recipe(
      tmp_path, *_tiny_flags(albef_checkpoints.NLVR),
      f"--config.model.pretrained={ta}",
      f"--config.model.original={albef_checkpoints.NLVR}",
      "--config.deletion.count=2", "--config.train.batch_size=4",
      "--config.train.num_steps=4", "--config.train.warmup_steps=0",
      "--config.unlearn.num_steps=2", "--config.unlearn.df_batch_size=2",
      "--config.unlearn.dr_batch_size=4", "--config.eval.max_dr_images=0",
      "--config.eval.auc_num_samples=1", config="albef_nlvr2", data=NLVR2,
      timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["fusion_layers"] == 4
  assert set(results["models"]) == {"original", "retrained", "mmul"}

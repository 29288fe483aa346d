"""Hugging Face's ViT through the whole loop: `model.arch = "vit"` with
the tiny checkpoint of tests/fixtures/vit_golden (as a `ViTModel`
backbone: a fresh 32-way head) on the embedded CIFAR stand-in
(shapes_cifar) at another image size than the checkpoint's; refusals
before any compute; configs/vit_cifar100.py without its backbone (exit 2)
and on the fake CIFAR-100 download. The whole runs are in the slow
suite."""

import json
import os

import numpy as np
import pytest
import script_checks
import vit_checkpoints

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import vit_weights
from mmul_jax.unlearn import run as run_lib

# Each test sets up or runs a whole experiment: the default suite keeps
# this family's golden parity tests only (time).
pytestmark = pytest.mark.slow

FIXTURES = os.path.dirname(vit_checkpoints.GOLDEN)


def _config(tiny_config, data_dir, path, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "shapes_cifar"
  c.model.pretrained = path
  c.model.update(vit_weights.model_keys(path))
  c.model.image_size = c.data.image_size
  c.method.name = "neggrad"
  c.update_from_flattened_dict(changes)
  return c


def test_the_model_starts_from_the_backbone(tiny_config, data_dir,
                                            tmp_path):
  path = vit_checkpoints.backbone(tmp_path / "ckpt")
  c = _config(tiny_config, data_dir, path)
  exp = experiment.setup(c, str(tmp_path / "run"))
  assert type(exp.model).__name__ == "VitClassifier"
  params = experiment.initial_params(exp, 0)["params"]
  state = vit_weights.read_state(path)
  np.testing.assert_array_equal(
      params["vit"]["encoder"]["layer_1"]["output"]["dense"]["kernel"],
      state["vit.encoder.layer.1.output.dense.weight"].T)
  assert params["classifier"]["kernel"].shape[-1] == 32


def test_refusals_before_any_compute(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, vit_checkpoints.CKPT,
              **{"data.name": "reviews"})
  with pytest.raises(errors.ConfigError, match="is an image classifier"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, vit_checkpoints.CKPT)
  with pytest.raises(errors.ConfigError, match="classifies into 10 classes;"
                     " this dataset has 32"):
    experiment.setup(c, str(tmp_path / "a"))
  c = _config(tiny_config, data_dir, vit_checkpoints.CKPT,
              **{"model.vision_layers": 3})
  c.model.pretrained = vit_checkpoints.backbone(tmp_path / "ckpt")
  with pytest.raises(errors.ConfigError, match="model.vision_layers = 3 but "
                     "the checkpoint has 2"):
    experiment.setup(c, str(tmp_path / "b"))


@pytest.mark.slow  # about a minute: compiling the ViT's passes
def test_unlearning_runs_on_the_vit(tiny_config, data_dir, tmp_path):
  path = vit_checkpoints.backbone(tmp_path / "ckpt")
  results = run_lib.run(_config(tiny_config, data_dir, path),
                        str(tmp_path / "run"))
  assert set(results.models) == {"original", "retrained", "neggrad"}
  for m in results.models.values():
    assert 0 <= m.metrics["test/accuracy"] <= 100


def _recipe(tmp_path, *flags, timeout=120):
  return script_checks.recipe_run(tmp_path, "vit_cifar100", "cifar100",
                                  *flags, timeout=timeout)


def test_the_recipe_without_its_backbone_says_how_to_get_it(tmp_path):
  r = _recipe(tmp_path)
  assert r.returncode == 2, r.stderr[-2000:]
  assert ("huggingface-cli download google/vit-base-patch16-224-in21k"
          in r.stderr)
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: the ViT's passes compile
def test_the_recipe_runs_on_the_fake_download(tmp_path):
  path = vit_checkpoints.backbone(tmp_path / "ckpt")
  keys = {**vit_weights.model_keys(path), "image_size": 32}
  r = _recipe(
      tmp_path, *(f"--config.model.{k}={v}" for k, v in keys.items()),
      f"--config.model.pretrained={path}", "--config.data.image_size=32",
      *script_checks.QUICK_RUN,
      timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "vit"
  assert set(results["models"]) == {"original", "retrained", "randlabel"}

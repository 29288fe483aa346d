"""Hugging Face's ResNet through the whole loop: `model.arch = "resnet"`
with the tiny checkpoint of tests/fixtures/resnet_golden (its 10-way head
dropped: a fresh 32-way head) on the embedded CIFAR stand-in
(shapes_cifar); the batch-norm statistics stay the checkpoint's through
training and unlearning, SalUn's mask and Fisher's noise included;
refusals before any compute; configs/resnet_cifar100.py without its
backbone (exit 2) and on the fake CIFAR-100 download. The whole runs are
in the slow suite."""

import json
import os

import jax
import numpy as np
import pytest
import script_checks

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import resnet_weights
from mmul_jax.unlearn import phases

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")
CKPT = os.path.join(FIXTURES, "resnet_golden", "basic")


def _config(tiny_config, data_dir, path=CKPT, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "shapes_cifar"
  c.model.pretrained = path
  c.model.update(resnet_weights.model_keys(path))
  c.method.name = "neggrad"
  c.update_from_flattened_dict(changes)
  return c


def test_refusals_before_any_compute(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"data.name": "reviews"})
  with pytest.raises(errors.ConfigError, match="'resnet' is an image "
                     "classifier"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, **{"model.resnet_depths": (1, 1)})
  with pytest.raises(errors.ConfigError, match=r"model.resnet_depths = "
                     r"\(1, 1\) but the checkpoint has \(1, 2\)"):
    experiment.setup(c, str(tmp_path / "a"))
  c = _config(tiny_config, data_dir, **{"model.resnet_widths": (8,)})
  with pytest.raises(errors.ConfigError,
                     match=r"gives 1 stage\(s\) and model.resnet_depths 2"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, **{"model.original": CKPT})
  with pytest.raises(errors.ConfigError, match="without the task's head"):
    experiment.setup(c, str(tmp_path / "b"))


@pytest.mark.slow  # about a minute: compiling the ResNet's passes
@pytest.mark.parametrize("method", ["salun", "fisher"])
def test_unlearning_keeps_the_checkpoint_statistics(tiny_config, data_dir,
                                                    tmp_path, method):
  c = _config(tiny_config, data_dir, **{"method.name": method,
                                        "train.num_steps": 6,
                                        "unlearn.num_steps": 3,
                                        "method.salun.target": "labels"})
  exp = experiment.setup(c, str(tmp_path / "run"))
  assert type(exp.model).__name__ == "ResnetClassifier"
  start = experiment.initial_params(exp, 0)
  stats = resnet_weights.import_variables(
      jax.tree.map(np.asarray, start), CKPT)["batch_stats"]
  jax.tree.map(np.testing.assert_array_equal, start["batch_stats"], stats)
  original, _ = phases.train_model(exp, "original")
  unlearned, _ = phases.unlearn_model(exp, original)
  for params in (original, unlearned):
    jax.tree.map(np.testing.assert_array_equal, params["batch_stats"], stats)
  kernel = lambda p: np.asarray(p["params"]["resnet"]["embedder"][
      "embedder"]["convolution"]["kernel"])
  assert not np.array_equal(kernel(original), kernel(start))
  assert not np.array_equal(kernel(unlearned), kernel(original))


def _recipe(tmp_path, *flags, backbone="resnet-18", timeout=120):
  return script_checks.recipe_run(
      tmp_path, "resnet_cifar100", "cifar100", *flags,
      option=f"backbone={backbone}", timeout=timeout)


def test_the_recipe_without_its_backbone_says_how_to_get_it(tmp_path):
  r = _recipe(tmp_path, "--config.model.pretrained=" + str(
      tmp_path / "resnet-50"), backbone="resnet-50")
  assert r.returncode == 2, r.stderr[-2000:]
  assert "huggingface-cli download microsoft/resnet-50" in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: the ResNet's passes compile
def test_the_recipe_runs_on_the_fake_download(tmp_path):
  keys = resnet_weights.model_keys(CKPT)
  del keys["arch"]
  r = _recipe(
      tmp_path, *(f"--config.model.{k}={v}" for k, v in keys.items()),
      f"--config.model.pretrained={CKPT}", "--config.data.image_size=32",
      "--config.model.image_size=32",
      *script_checks.QUICK_RUN,
      timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "resnet"
  assert set(results["models"]) == {"original", "retrained", "randlabel"}

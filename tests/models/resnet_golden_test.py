"""ResNet image classifier parity without torch: two random tiny
`transformers.ResNetForImageClassification` models (basic and bottleneck
blocks; tests/fixtures/resnet_golden, written by
tests/fixtures/make_resnet_golden.py) with random batch-norm statistics
must give, through our importer and
`models.resnet_classifier.ResnetClassifier`, what transformers computed
in inference mode: class logits and the pooled features, to 1e-4
(float32). The statistics are `batch_stats`, which no gradient reaches."""

import functools
import os

import bert_checkpoints
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.models import resnet_classifier
from mmul_jax.pretrained import resnet_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "resnet_golden")
TOL = dict(rtol=1e-4, atol=1e-4)


def _ckpt(layout):
  return os.path.join(GOLDEN, layout)


@functools.lru_cache(maxsize=None)
def _template(layout, num_classes=None):
  config = resnet_weights.model_config(_ckpt(layout))
  config["num_classes"] = num_classes or config["num_classes"]
  model = resnet_classifier.ResnetClassifier(**config)
  variables = jax.jit(functools.partial(model.init, method=model.classify))(
      jax.random.key(0), np.zeros((1, 36, 36, 3), np.float32))
  return model, jax.tree.map(np.asarray, variables)


@pytest.mark.parametrize("layout", ["basic", "bottleneck"])
def test_import_matches_transformers(layout):
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  model, variables = _template(layout)
  loaded = resnet_weights.import_variables(variables, _ckpt(layout))
  out = jax.jit(lambda v: model.apply(v, golden["images"],
                                      method=model.classify))(loaded)
  np.testing.assert_allclose(out["class_logits"], golden[f"{layout}_logits"],
                             **TOL)
  np.testing.assert_allclose(out["features"], golden[f"{layout}_features"],
                             **TOL)


def test_no_gradient_reaches_the_running_statistics():
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  model, variables = _template("basic")
  loaded = resnet_weights.import_variables(variables, _ckpt("basic"))
  grads = jax.grad(lambda v: jnp.sum(model.apply(
      v, golden["images"], method=model.classify)["class_logits"] ** 2))(
          loaded)
  stats = jax.tree.leaves(grads[resnet_classifier.BATCH_STATS])
  assert stats and all(not np.any(g) for g in stats)
  assert any(np.any(g) for g in jax.tree.leaves(grads["params"]))


def _rewritten(tmp_path, change, config_change=None):
  return bert_checkpoints.copy_changed(_ckpt("basic"), tmp_path / "basic",
                                       change, config_change)


def test_an_imagenet_head_is_dropped_and_the_task_head_kept(tmp_path):
  """microsoft/resnet-18 as `model.pretrained`: its head has other
  classes, so the task's head keeps its initialisation."""
  _, variables = _template("basic", num_classes=4)
  loaded = resnet_weights.import_variables(variables, _ckpt("basic"))
  whole = resnet_weights.import_variables(_template("basic")[1],
                                          _ckpt("basic"))
  np.testing.assert_array_equal(loaded["params"]["classifier_1"]["kernel"],
                                variables["params"]["classifier_1"]["kernel"])
  jax.tree.map(np.testing.assert_array_equal, loaded["params"]["resnet"],
               whole["params"]["resnet"])
  jax.tree.map(np.testing.assert_array_equal, loaded["batch_stats"],
               whole["batch_stats"])
  task = type("Task", (), {"num_classes": 4})
  assert not resnet_weights.has_head(_ckpt("basic"), task)
  task.num_classes = 10
  assert resnet_weights.has_head(_ckpt("basic"), task)


def test_a_bare_resnet_model_file_loads(tmp_path):
  def change(state):
    for k in list(state):
      v = state.pop(k)
      if k.startswith("resnet."):
        state[k[len("resnet."):]] = v

  def config(c):
    c["architectures"] = ["ResNetModel"]

  path = _rewritten(tmp_path, change, config)
  _, variables = _template("basic")
  loaded = resnet_weights.import_variables(variables, path)
  whole = resnet_weights.import_variables(variables, _ckpt("basic"))
  jax.tree.map(np.testing.assert_array_equal, loaded["batch_stats"],
               whole["batch_stats"])


_STAT = "resnet.embedder.embedder.normalization.running_var"


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop(_STAT), "no tensor for 1 parameter"),
    (lambda s: s.update({_STAT: s[_STAT][:4]}),
     r"'resnet.embedder.embedder.normalization.running_var' has shape \(4,\)"),
    (lambda s: s.update({_STAT: s[_STAT] * np.nan}), "holds 8 NaN/inf"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  path = _rewritten(tmp_path, change)
  _, variables = _template("basic")
  with pytest.raises(errors.CheckpointError, match=match):
    resnet_weights.import_variables(variables, path)


def test_model_keys_name_every_difference():
  keys = resnet_weights.model_keys(_ckpt("bottleneck"))
  assert keys["resnet_block"] == "bottleneck"
  assert keys["resnet_downsample_in_bottleneck"] is True
  cfg = {**keys, "resnet_depths": (1, 1)}
  resnet_weights.check_model_config(_ckpt("bottleneck"), keys)
  with pytest.raises(errors.ConfigError,
                     match=r"model.resnet_depths = \(1, 1\) but the "
                     r"checkpoint has \(2, 1\)"):
    resnet_weights.check_model_config(_ckpt("bottleneck"), cfg)


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 300_000, total

"""VideoMAE video classifier parity without torch: two random tiny
`transformers.VideoMAEForVideoClassification` models (mean pooling with
`fc_norm` and query/value biases; the final LayerNorm's first token
without them; tests/fixtures/videomae_golden, written by
tests/fixtures/make_videomae_golden.py) must give, through our importer
and `models.videomae_classifier.VideomaeClassifier`, what transformers
computed: class logits and the features the classifier reads, to 1e-4
(float32)."""

import functools
import os

import bert_checkpoints
import jax
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.models import videomae_classifier
from mmul_jax.pretrained import videomae_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "videomae_golden")
TOL = dict(rtol=1e-4, atol=1e-4)


def _ckpt(head):
  return os.path.join(GOLDEN, head)


@functools.lru_cache(maxsize=None)
def _template(head, frames=4):
  model = videomae_classifier.VideomaeClassifier(
      **videomae_weights.model_config(_ckpt(head)))
  params = jax.jit(functools.partial(model.init, method=model.classify))(
      jax.random.key(0), np.zeros((1, frames, 16, 16, 3), np.float32))
  return model, jax.tree.map(np.asarray, params["params"])


@pytest.mark.parametrize("head", ["mean", "first"])
def test_import_matches_transformers(head):
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  model, params = _template(head)
  loaded = videomae_weights.import_params(params, _ckpt(head))
  out = jax.jit(lambda p: model.apply({"params": p}, golden["clips"],
                                      method=model.classify))(loaded)
  np.testing.assert_allclose(out["class_logits"], golden[f"{head}_logits"],
                             **TOL)
  np.testing.assert_allclose(out["features"], golden[f"{head}_features"],
                             **TOL)


def test_the_sinusoid_table_is_videomaes():
  t = videomae_classifier.sinusoid_table(3, 4)
  np.testing.assert_allclose(t[2], [np.sin(2), np.cos(2), np.sin(0.02),
                                    np.cos(0.02)], rtol=1e-6)


def _pretrained(tmp_path):
  """The golden classifier as `VideoMAEForPreTraining`: no head, the old
  `q_bias` / `v_bias` names, a decoder and a mask token."""

  def change(state):
    for k in list(state):
      v = state.pop(k)
      if k.startswith(("classifier.", "fc_norm.")):
        continue
      k = k.replace("attention.attention.query.bias",
                    "attention.attention.q_bias")
      k = k.replace("attention.attention.value.bias",
                    "attention.attention.v_bias")
      state[k] = v
    state["decoder.head.weight"] = np.zeros((4, 32), np.float32)
    state["encoder_to_decoder.weight"] = np.zeros((32, 32), np.float32)
    state["mask_token"] = np.zeros((1, 1, 32), np.float32)

  def config(c):
    c["architectures"] = ["VideoMAEForPreTraining"]

  return bert_checkpoints.copy_changed(_ckpt("mean"), tmp_path / "mean",
                                       change, config)


def test_the_pretrained_model_loads_as_the_backbone(tmp_path):
  path = _pretrained(tmp_path)
  task = type("Task", (), {"num_classes": 6})
  assert not videomae_weights.has_head(path, task)
  assert videomae_weights.has_head(_ckpt("mean"), task)
  _, params = _template("mean")
  loaded = videomae_weights.import_params(params, path)
  whole = videomae_weights.import_params(params, _ckpt("mean"))
  for head in ("fc_norm", "classifier"):
    jax.tree.map(np.testing.assert_array_equal, loaded[head], params[head])
  jax.tree.map(np.testing.assert_array_equal, loaded["videomae"],
               whole["videomae"])


def test_clips_of_other_lengths_run_and_other_sizes_are_refused():
  model, params = _template("mean", frames=6)
  out = model.apply({"params": params}, np.zeros((1, 6, 16, 16, 3)),
                    method=model.classify)
  assert out["class_logits"].shape == (1, 6)
  with pytest.raises(ValueError, match="frames of 16x16"):
    model.apply({"params": params}, np.zeros((1, 4, 32, 32, 3)),
                method=model.classify)
  cfg = {"image_size": 32, "arch": "videomae"}
  with pytest.raises(errors.ConfigError, match="reads 16-pixel frames"):
    videomae_weights.check_model_config(_ckpt("mean"), cfg)


_K = "videomae.embeddings.patch_embeddings.projection.weight"


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("videomae.encoder.layer.1.output.dense.bias"),
     "no tensor for 1 parameter"),
    (lambda s: s.update({_K: s[_K][:, :, :1]}),
     r"'videomae.embeddings.patch_embeddings.projection.weight' has shape "
     r"\(32, 3, 1, 8, 8\)"),
    (lambda s: s.update({"videomae.encoder.layer.0.attention.attention."
                         "key.bias": np.zeros(32, np.float32)}),
     "'videomae.encoder.layer.0.attention.attention.key.bias' has no "
     "place"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  path = bert_checkpoints.copy_changed(_ckpt("mean"), tmp_path / "m", change)
  _, params = _template("mean")
  with pytest.raises(errors.CheckpointError, match=match):
    videomae_weights.import_params(params, path)


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 300_000, total

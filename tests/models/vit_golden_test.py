"""ViT image classifier parity without torch: a random tiny
`transformers.ViTForImageClassification` (tests/fixtures/vit_golden,
written by tests/fixtures/make_vit_golden.py) must give, through our
importer and `models.vit_classifier.VitClassifier`, what transformers
computed: class logits and the final [CLS], to 1e-4 (float32), at the
checkpoint's image size and at another (positions resized on import as
transformers' `interpolate_pos_encoding` does at run time)."""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import vit_checkpoints

from mmul_jax import errors
from mmul_jax.models import vit_classifier
from mmul_jax.pretrained import vit_weights

GOLDEN = vit_checkpoints.GOLDEN
CKPT = vit_checkpoints.CKPT
TOL = dict(rtol=1e-4, atol=1e-4)


@functools.lru_cache(maxsize=None)
def _template(image_size=32, dtype=jnp.float32):
  config = {**vit_weights.model_config(CKPT), "image_size": image_size}
  model = vit_classifier.VitClassifier(**config, dtype=dtype)
  init = jax.jit(functools.partial(model.init, method=model.classify))
  params = init(jax.random.key(0),
                np.zeros((1, image_size, image_size, 3), np.float32))
  return model, jax.tree.map(np.asarray, params["params"])


def _classify(model, params, images):
  return jax.jit(lambda p: model.apply({"params": p}, images,
                                       method=model.classify))(params)


@pytest.mark.parametrize("size,suffix", [(32, ""), (40, "_40")])
def test_import_matches_transformers(size, suffix):
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  model, params = _template(size)
  out = _classify(model, vit_weights.import_params(params, CKPT),
                  golden["images" + suffix])
  np.testing.assert_allclose(out["class_logits"], golden["logits" + suffix],
                             **TOL)
  np.testing.assert_allclose(out["features"], golden["features" + suffix],
                             **TOL)


_rewritten = vit_checkpoints.rewritten
backbone = vit_checkpoints.backbone


def test_the_pretrained_model_loads_as_the_backbone(tmp_path):
  path = backbone(tmp_path)
  assert not vit_weights.has_head(path) and vit_weights.has_head(CKPT)
  _, params = _template()
  loaded = vit_weights.import_params(params, path)
  whole = vit_weights.import_params(params, CKPT)
  np.testing.assert_array_equal(loaded["classifier"]["kernel"],
                                params["classifier"]["kernel"])
  jax.tree.map(np.testing.assert_array_equal, loaded["vit"], whole["vit"])


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("classifier.bias"), "no tensor for 1 parameter"),
    (lambda s: s.update({"classifier.weight": s["classifier.weight"][:, :8]}),
     r"'classifier.weight' has shape \(10, 8\)"),
    (lambda s: s.update({"classifier.bias": s["classifier.bias"].astype(
        np.int32)}), "'classifier.bias' has dtype int32"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  path = _rewritten(tmp_path, change)
  _, params = _template()
  with pytest.raises(errors.CheckpointError, match=match):
    vit_weights.import_params(params, path)


def test_a_truncated_checkpoint_is_refused(tmp_path):
  path = _rewritten(tmp_path, lambda s: None)
  weights = os.path.join(path, "model.safetensors")
  with open(weights, "rb") as f:
    data = f.read()
  with open(weights, "wb") as f:
    f.write(data[:3000])
  _, params = _template()
  with pytest.raises(errors.CheckpointError):
    vit_weights.import_params(params, path)


@pytest.mark.slow  # two more compilations (default-suite time)
def test_bfloat16_compute_stays_close():
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  model, params = _template()
  half, _ = _template(32, jnp.bfloat16)
  loaded = vit_weights.import_params(params, CKPT)
  gap = np.abs(_classify(half, loaded, golden["images"])["class_logits"]
               - _classify(model, loaded, golden["images"])["class_logits"])
  assert gap.max() < 0.05, gap.max()


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 300_000, total

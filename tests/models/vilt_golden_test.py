"""ViLT parity without torch: random tiny
`transformers.ViltForImagesAndTextClassification` models committed in
Hugging Face's layout (tests/fixtures/vilt_golden, written by
tests/fixtures/make_vilt_golden.py), NLVR2-style (two images) and
SNLI-VE-style (one), must give, through our importer, tokenizer and
`models.vilt.ViltClassifier`, what transformers computed: class logits,
each pass's pooled output, text tokens, image [CLS] and mean patch token,
to 1e-4 (float32), also at an image size other than the checkpoint's."""

import functools
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy

from mmul_jax import errors
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.models import vilt
from mmul_jax.pretrained import vilt_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "vilt_golden")
TOL = dict(rtol=1e-4, atol=1e-4)


def _hf(case):
  return os.path.join(GOLDEN, case, "hf")


@functools.lru_cache(maxsize=None)
def _template(case, dtype=jnp.float32):
  """The model of the golden checkpoint and its initial parameters."""
  num_images, num_classes = vilt_weights.checkpoint_task(_hf(case))
  model = vilt.ViltClassifier(
      num_classes=num_classes, num_images=num_images, dtype=dtype,
      **vilt_weights.model_config(_hf(case)))
  golden = dict(np.load(os.path.join(GOLDEN, case, "outputs.npz")))
  params = jax.jit(functools.partial(model.init, method=model.classify))(
      jax.random.key(0), golden["images"][:1], golden["ids"][:1])["params"]
  return model, jax.tree.map(np.asarray, params), golden


def _passes(m, images, ids):
  """The classifier's outputs and each image's joint pass."""
  return m.classify(images, ids), [
      m.joint(images[:, i], ids, index=i) for i in range(images.shape[1])]


def _run(model, params, images, ids):
  return jax.jit(lambda p: model.apply({"params": p}, images, ids,
                                       method=_passes))(params)


def _model_and_params(case, directory=None, dtype=jnp.float32):
  model, params, golden = _template(case, dtype)
  return (model, vilt_weights.import_params(params, directory or _hf(case)),
          golden)


def _check(model, params, golden, images, prefix=""):
  out, passes = _run(model, params, images, golden["ids"])
  length = golden["ids"].shape[1]
  np.testing.assert_allclose(out["class_logits"], golden[prefix + "logits"],
                             **TOL)
  pooled = np.stack([p for _, p in passes], 1)
  np.testing.assert_allclose(pooled, golden[prefix + "pooled"], **TOL)
  np.testing.assert_allclose(
      out["fusion_cls"], pooled.reshape(len(pooled), -1), **TOL)
  hidden = np.stack([h for h, _ in passes], 1)
  np.testing.assert_allclose(hidden[:, :, :length],
                             golden[prefix + "text_hidden"], **TOL)
  np.testing.assert_allclose(hidden[:, :, length],
                             golden[prefix + "image_cls"], **TOL)
  np.testing.assert_allclose(hidden[:, :, length + 1:].mean(2),
                             golden[prefix + "patch_mean"], **TOL)
  return out


@pytest.mark.parametrize("case", ["nlvr2", "ve"])
def test_import_matches_transformers(case):
  model, params, golden = _model_and_params(case)
  tok = tokenizer_lib.from_checkpoint(_hf(case), model.context_length)
  ids = tokenizer_lib.encode(tok, [str(t) for t in golden["texts"]])
  np.testing.assert_array_equal(ids, golden["ids"])
  assert model.eot_id == tok.token_to_id("[SEP]")
  out = _check(model, params, golden, golden["images"])
  k = model.num_images
  assert out["image_embed"].shape == (3, k, model.width)
  assert out["image_tokens"].shape == (3, k, 1 + 16, model.width)
  np.testing.assert_allclose(np.linalg.norm(out["text_embed"], axis=-1), 1,
                             rtol=1e-5)


def test_images_of_another_size_interpolate_the_positions():
  """40-pixel images on the 32-pixel checkpoint: a 5x5 grid of position
  embeddings from its 4x4, as transformers interpolates them."""
  model, params, golden = _model_and_params("nlvr2")
  _check(model, params, golden, golden["images_resized"], "resized_")


def test_resize_is_the_identity_at_the_trained_grid():
  grid = np.random.default_rng(0).normal(size=(3, 4, 5))
  np.testing.assert_allclose(vilt.resize_positions(grid, 3, 4), grid,
                             rtol=1e-6)
  corners = vilt.resize_positions(grid, 7, 9)
  np.testing.assert_allclose(corners[::6, ::8], grid[::2, ::3], rtol=1e-5)


def _copy_with(tmp_path, change):
  directory = tmp_path / "ckpt"
  shutil.copytree(_hf("ve"), directory)
  path = directory / "model.safetensors"
  state = safetensors.numpy.load_file(str(path))
  change(state)
  safetensors.numpy.save_file(state, str(path))
  return str(directory)


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("classifier.3.bias"), "no tensor for 1 parameter"),
    (lambda s: s.update({"vilt.pooler.dense.weight": s[
        "vilt.pooler.dense.weight"][:, :8]}),
     r"'vilt.pooler.dense.weight' has shape \(32, 8\)"),
    (lambda s: s.update({"vilt.embeddings.cls_token": s[
        "vilt.embeddings.cls_token"].astype(np.int32)}),
     "'vilt.embeddings.cls_token' has dtype int32"),
    (lambda s: s.update({"mlm_score.decoder.weight": np.zeros(
        (3, 3), np.float32)}), "'mlm_score.decoder.weight' has no place"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  directory = _copy_with(tmp_path, change)
  with pytest.raises(errors.CheckpointError, match=match):
    _model_and_params("ve", directory)


def test_a_truncated_checkpoint_is_refused(tmp_path):
  directory = tmp_path / "ckpt"
  shutil.copytree(_hf("ve"), directory)
  path = directory / "model.safetensors"
  path.write_bytes(path.read_bytes()[:5000])
  with pytest.raises(errors.CheckpointError, match="not a readable"):
    _model_and_params("ve", str(directory))


def test_another_architecture_is_refused(tmp_path):
  directory = tmp_path / "ckpt"
  shutil.copytree(_hf("ve"), directory)
  config = (directory / "config.json").read_text()
  (directory / "config.json").write_text(config.replace(
      "ViltForImagesAndTextClassification", "ViltForQuestionAnswering"))
  with pytest.raises(errors.CheckpointError,
                     match="not ViltForImagesAndTextClassification"):
    vilt_weights.model_config(str(directory))


def test_bfloat16_compute_stays_close():
  """bf16 compute with float32 parameters: logits within 0.1 of float32's
  (they span about ±4 here)."""
  model, params, golden = _model_and_params("nlvr2")
  half, _, _ = _model_and_params("nlvr2", dtype=jnp.bfloat16)
  full = _run(model, params, golden["images"], golden["ids"])[0]
  out = _run(half, params, golden["images"], golden["ids"])[0]
  assert out["class_logits"].dtype == np.float32
  diff = np.max(np.abs(out["class_logits"] - full["class_logits"]))
  assert diff < 0.1, diff


def test_the_pretrained_backbone_loads_without_a_head():
  """`ViltForMaskedLM` (two modality types, no classifier) into the
  two-image classifier: each image's pass pools as transformers' backbone
  does with the image type, the second image's type a copy of the first's,
  and the classifier keeps its initialisation."""
  model, params, golden = _template("nlvr2")
  mlm = os.path.join(GOLDEN, "mlm", "hf")
  assert not vilt_weights.has_head(mlm)
  loaded = vilt_weights.import_params(params, mlm)
  types = loaded["vilt"]["embeddings"]["token_type_embeddings"]["embedding"]
  np.testing.assert_array_equal(types[2], types[1])
  np.testing.assert_array_equal(loaded["classifier_3"]["kernel"],
                                params["classifier_3"]["kernel"])
  want = np.load(os.path.join(GOLDEN, "mlm", "outputs.npz"))["pooled"]
  first = golden["images"][:, :1]
  _, passes = _run(model, loaded, np.concatenate([first, first], 1),
                   golden["ids"])
  for _, pooled in passes:
    np.testing.assert_allclose(pooled, want, **TOL)


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 600_000, total

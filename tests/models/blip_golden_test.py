"""BLIP retrieval parity without torch: a random tiny
`transformers.BlipForImageTextRetrieval` committed in Hugging Face's
layout (tests/fixtures/blip_golden, written by
tests/fixtures/make_blip_golden.py) must give, through our importer,
tokenizer and `models.blip.BlipRetrieval`, what transformers computed:
image tokens, both passes' [CLS], ITC cosine scores and ITM logits, to
1e-4 (float32)."""

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
from mmul_jax.models import blip
from mmul_jax.pretrained import blip_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "blip_golden")
HF = os.path.join(GOLDEN, "hf")
TOL = dict(rtol=1e-4, atol=1e-4)


@functools.lru_cache(maxsize=None)
def _template():
  """The model of the golden checkpoint and its initial parameters."""
  model = blip.BlipRetrieval(**blip_weights.model_config(HF))
  golden = dict(np.load(os.path.join(GOLDEN, "outputs.npz")))
  params = jax.jit(model.init)(jax.random.key(0), golden["images"][:1],
                               golden["ids"][:1])["params"]
  return model, jax.tree.map(np.asarray, params), golden


def _passes(m, images, ids):
  """Every output the golden file holds, from one compiled program."""
  img = m.encode_image(images)
  txt = m.encode_text(ids)
  fused = m.fuse(img["image_tokens"], txt["text_tokens"], txt["text_mask"])
  unimodal = m.text_encoder(txt["text_tokens"], txt["text_mask"])
  return img, txt, fused, unimodal[:, 0], m(images, ids)


def _run(model, params, golden):
  return jax.jit(lambda p: model.apply({"params": p}, golden["images"],
                                       golden["ids"], method=_passes))(params)


def _model_and_params(directory=HF):
  model, params, golden = _template()
  return model, blip_weights.import_params(params, directory), golden


def test_import_matches_transformers():
  model, params, golden = _model_and_params()
  tok = tokenizer_lib.from_checkpoint(HF, model.context_length)
  ids = tokenizer_lib.encode(tok, [str(t) for t in golden["texts"]])
  np.testing.assert_array_equal(ids, golden["ids"])
  img, txt, fused, text_cls, whole = _run(model, params, golden)
  np.testing.assert_array_equal(txt["text_mask"], golden["mask"])
  np.testing.assert_allclose(img["image_tokens"], golden["image_tokens"],
                             **TOL)
  np.testing.assert_allclose(img["image_embed"] @ txt["text_embed"].T,
                             golden["itc_scores"], **TOL)
  # The ITC text embedding is the text encoder without cross-attention.
  np.testing.assert_allclose(text_cls, golden["text_cls"], **TOL)
  np.testing.assert_allclose(fused["fusion_cls"], golden["fusion_cls"],
                             **TOL)
  np.testing.assert_allclose(fused["itm_logits"], golden["itm_logits"],
                             **TOL)
  np.testing.assert_allclose(whole["itm_logits"], golden["itm_logits"],
                             **TOL)


def _copy_with(tmp_path, change):
  directory = tmp_path / "ckpt"
  shutil.copytree(HF, directory)
  path = directory / "model.safetensors"
  state = safetensors.numpy.load_file(str(path))
  change(state)
  safetensors.numpy.save_file(state, str(path))
  return str(directory)


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("itm_head.weight"), "no tensor for 1 parameter"),
    (lambda s: s.update({"text_proj.weight": s["text_proj.weight"][:, :8]}),
     r"'text_proj.weight' has shape \(16, 8\)"),
    (lambda s: s.update({"itm_head.bias": s["itm_head.bias"].astype(
        np.int32)}), "'itm_head.bias' has dtype int32"),
    (lambda s: s.update({"extra.weight": np.zeros(3, np.float32)}),
     "'extra.weight' has no place"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  directory = _copy_with(tmp_path, change)
  with pytest.raises(errors.CheckpointError, match=match):
    _model_and_params(directory)


def test_a_truncated_checkpoint_is_refused(tmp_path):
  directory = tmp_path / "ckpt"
  shutil.copytree(HF, directory)
  path = directory / "model.safetensors"
  path.write_bytes(path.read_bytes()[:5000])
  with pytest.raises(errors.CheckpointError, match="not a readable"):
    _model_and_params(str(directory))


def test_another_architecture_is_refused(tmp_path):
  directory = tmp_path / "ckpt"
  shutil.copytree(HF, directory)
  config = (directory / "config.json").read_text()
  (directory / "config.json").write_text(
      config.replace("BlipForImageTextRetrieval", "BlipForQuestionAnswering"))
  with pytest.raises(errors.CheckpointError, match="not BlipForImageText"):
    blip_weights.model_config(str(directory))


def test_bfloat16_compute_stays_close():
  """bf16 compute with float32 parameters: ITC scores within 0.05."""
  model, params, golden = _model_and_params()
  half = blip.BlipRetrieval(**{**blip_weights.model_config(HF),
                               "dtype": jnp.bfloat16})
  out = _run(half, params, golden)[-1]
  full = _run(model, params, golden)[-1]
  assert np.max(np.abs(out["image_embed"] - full["image_embed"])) < 0.05
  assert np.max(np.abs(out["itm_logits"] - full["itm_logits"])) < 0.05


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 500_000, total

"""BLIP retrieval parity without torch: a random tiny
`transformers.BlipForImageTextRetrieval` committed in Hugging Face's
layout (tests/fixtures/blip_golden, written by
tests/fixtures/make_blip_golden.py) must give, through our importer,
tokenizer and `models.blip.BlipRetrieval`, what transformers computed:
image tokens, both passes' [CLS], ITC cosine scores and ITM logits, to
1e-4 (float32). The same weights in BLIP's own `.pth` layout import to
the same parameters."""

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
from mmul_jax.pretrained import blip_original
from mmul_jax.pretrained import blip_weights
from mmul_jax.pretrained import positions

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


ORIGINAL = os.path.join(GOLDEN, "original", "model_base.pth")


def test_blips_own_file_imports_to_the_same_model():
  """The same weights in BLIP's own layout (a wrapped .pth with timm's
  image-encoder names, `temp`, momentum copies, queues and a decoder
  tensor) give the same architecture and parameters, `temp` as the logit
  scale."""
  assert blip_weights.model_config(ORIGINAL) == blip_weights.model_config(HF)
  _, from_hf, _ = _model_and_params()
  _, from_pth, _ = _model_and_params(ORIGINAL)
  np.testing.assert_allclose(np.exp(from_pth.pop("logit_scale")), 20.0,
                             rtol=1e-5)
  from_hf.pop("logit_scale")
  jax.tree.map(np.testing.assert_array_equal, from_pth, from_hf)


def test_blips_own_file_resizes_its_positions():
  """The pretrained files are 224-pixel models read at 384: the 4x4 grid
  read at 40 pixels is `positions.resize` of it (torch's bicubic, checked
  against torch in albef_golden_test), [CLS] kept."""
  config = {**blip_weights.model_config(ORIGINAL), "image_size": 40}
  model = blip.BlipRetrieval(**config)
  params = jax.jit(model.init)(jax.random.key(0),
                               np.zeros((1, 40, 40, 3), np.float32),
                               np.zeros((1, 12), np.int32))["params"]
  loaded = blip_weights.import_params(jax.tree.map(np.asarray, params),
                                      ORIGINAL)
  pos = blip_original.read_state(ORIGINAL)[blip_original.POS_EMBED]
  np.testing.assert_array_equal(
      loaded["vision_model"]["embeddings"]["position_embedding"],
      positions.resize(pos, 5))


def test_a_missing_or_foreign_blip_file_is_one_line(tmp_path):
  with pytest.raises(errors.CheckpointError, match=(
      "wget https://storage.googleapis.com/sfr-vision-language-research/"
      "BLIP/models/model_base_capfilt_large.pth")):
    blip_weights.model_config(str(tmp_path / "model_base_capfilt_large.pth"))
  albef_file = os.path.join(os.path.dirname(GOLDEN), "albef_golden",
                            "retrieval", "albef.pth")
  with pytest.raises(errors.CheckpointError,
                     match="not every text layer has cross-attention"):
    blip_weights.model_config(albef_file)

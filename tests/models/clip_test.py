"""Model output shapes, the three representations, and preset shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import models

TINY = dict(models.preset("tiny"), vision_layers=1, text_layers=1)


def _init(cfg, batch=3):
  model = models.DualEncoder(**cfg)
  images = jnp.zeros((batch, cfg["image_size"], cfg["image_size"], 3))
  text = jnp.ones((batch, cfg["context_length"]), jnp.int32)
  params = model.init(jax.random.key(0), images, text)
  return model, params


def _random_inputs(cfg, batch, seed=0):
  rng = np.random.default_rng(seed)
  images = rng.normal(size=(batch, cfg["image_size"], cfg["image_size"], 3))
  text = rng.integers(4, cfg["vocab_size"], (batch, cfg["context_length"]))
  text[:, 0] = 1
  text[:, 7] = cfg["eot_id"]
  text[:, 8:] = 0
  return jnp.asarray(images, jnp.float32), jnp.asarray(text, jnp.int32)


@pytest.mark.slow
def test_outputs_and_three_representations():
  model, params = _init(TINY)
  images, text = _random_inputs(TINY, 5)
  out = model.apply(params, images, text)
  n_tokens = (TINY["image_size"] // TINY["patch_size"]) ** 2 + 1
  assert out["image_embed"].shape == (5, TINY["embed_dim"])
  assert out["text_embed"].shape == (5, TINY["embed_dim"])
  assert out["image_tokens"].shape == (5, n_tokens, TINY["vision_width"])
  assert out["text_tokens"].shape == (
      5, TINY["context_length"], TINY["text_width"])
  assert out["fusion_cls"].shape == (5, TINY["fusion_width"])
  assert out["itm_logits"].shape == (5, 2)
  np.testing.assert_allclose(
      np.linalg.norm(out["image_embed"], axis=-1), 1.0, atol=1e-4)
  np.testing.assert_allclose(
      np.linalg.norm(out["text_embed"], axis=-1), 1.0, atol=1e-4)
  # The methods give the same values as the full call.
  img = model.apply(params, images, method=model.encode_image)
  np.testing.assert_allclose(img["image_embed"], out["image_embed"],
                             atol=1e-6)
  txt = model.apply(params, text, method=model.encode_text)
  fused = model.apply(params, img["image_tokens"], txt["text_tokens"],
                      txt["text_mask"], method=model.fuse)
  np.testing.assert_allclose(fused["fusion_cls"], out["fusion_cls"],
                             atol=1e-5)


def test_text_pools_at_end_of_text_and_ignores_padding():
  model, params = _init(TINY)
  _, text = _random_inputs(TINY, 2)
  changed = text.at[:, 9:].set(5)  # tokens after EOT differ
  a = model.apply(params, text, method=model.encode_text)
  b = model.apply(params, changed, method=model.encode_text)
  np.testing.assert_allclose(a["text_embed"], b["text_embed"], atol=1e-6)
  assert bool(a["text_mask"][0, 7]) and not bool(a["text_mask"][0, 8])
  # ... and the fusion [CLS] ignores them too (masked).
  img = model.apply(params, _random_inputs(TINY, 2)[0],
                    method=model.encode_image)
  fa = model.apply(params, img["image_tokens"], a["text_tokens"],
                   a["text_mask"], method=model.fuse)
  fb = model.apply(params, img["image_tokens"], b["text_tokens"],
                   b["text_mask"], method=model.fuse)
  np.testing.assert_allclose(fa["fusion_cls"], fb["fusion_cls"], atol=1e-5)
  # A token before EOT does change the embedding.
  c = model.apply(params, text.at[:, 3].set(6), method=model.encode_text)
  assert not np.allclose(a["text_embed"], c["text_embed"])


@pytest.mark.slow
def test_dropout_needs_rng_only_in_training():
  cfg = dict(TINY, dropout_rate=0.5)
  model, params = _init(cfg)
  images, text = _random_inputs(cfg, 2)
  a = model.apply(params, images, text, train=False)
  b = model.apply(params, images, text, train=False)
  np.testing.assert_array_equal(a["image_embed"], b["image_embed"])
  c = model.apply(params, images, text, train=True,
                  rngs={"dropout": jax.random.key(1)})
  assert not np.allclose(a["image_embed"], c["image_embed"])


def _dual_encoder_param_count(preset_name):
  cfg = models.preset(preset_name)
  model = models.DualEncoder(**cfg)
  images = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
  text = jax.ShapeDtypeStruct((1, 77), jnp.int32)
  shapes = jax.eval_shape(model.init, jax.random.key(0), images, text)
  p = shapes["params"]
  count = lambda t: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(t))
  return p, count(p["img"]) + count(p["txt"]) + 1  # + logit_scale


@pytest.mark.parametrize("name,expected", [
    # Parameter counts of OpenAI CLIP ViT-B/32 and ViT-B/16.
    ("vit_b32", 151_277_313), ("vit_b16", 149_620_737)])
def test_large_presets_match_openai_clip(name, expected):
  p, n = _dual_encoder_param_count(name)
  assert n == expected
  assert p["img"]["conv1"]["kernel"].shape[-1] == 768
  assert p["txt"]["token_embedding"]["embedding"].shape == (49408, 512)
  assert p["img"]["proj"].shape == (768, 512)
  assert p["txt"]["text_projection"].shape == (512, 512)


def test_wrong_image_size_is_rejected():
  model, params = _init(TINY)
  with pytest.raises(ValueError, match="expects 32x32"):
    model.apply(params, jnp.zeros((1, 16, 16, 3)),
                method=model.encode_image)

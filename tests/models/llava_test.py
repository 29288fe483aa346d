"""The LLaVA-layout model (`models.llava`): a row without an image reads
exactly what the Llama-layout decoder alone reads; a row with one
depends on it; cached decoding after an image gives the tokens a full
recomputation gives."""

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax import models
from mmul_jax.models import decoding

CONFIG = dict(arch="llava", image_size=16, patch_size=4, vision_width=32,
              vision_layers=1, vision_heads=2, mlp_ratio=2.0, vocab_size=50,
              context_length=16, text_width=32, text_layers=2, text_heads=4,
              kv_heads=2)


def _setup():
  model = models.build(CONFIG, image_generation=True)
  tokens = jax.random.randint(jax.random.key(2), (2, 5), 1, 50)
  mask = jnp.ones((2, 5), bool).at[1, :2].set(False)  # left padding
  images = jax.random.normal(jax.random.key(0), (2, 16, 16, 3))
  image_mask = jnp.array([True, False])
  params = model.init(jax.random.key(1), tokens, mask, None, images,
                      image_mask)
  return model, params, tokens, mask, images, image_mask


def test_a_row_without_an_image_reads_only_the_language_model():
  model, params, tokens, mask, images, image_mask = _setup()
  out = model.apply(params, tokens, mask, None, images, image_mask)
  assert out.shape == (2, 5, 50)
  lm = models.LlamaForCausalLM(model.cfg)
  alone = lm.apply({"params": params["params"]["language_model"]}, tokens,
                   mask)
  real = np.asarray(mask[1])
  np.testing.assert_allclose(np.asarray(out[1])[real],
                             np.asarray(alone[1])[real], atol=1e-5)
  # The row with an image differs from the decoder alone, and depends on it.
  assert np.abs(np.asarray(out[0] - alone[0])).max() > 1e-3
  other = model.apply(params, tokens, mask, None, images[::-1], image_mask)
  assert np.abs(np.asarray(out[0] - other[0])).max() > 1e-3


def test_cached_decoding_after_an_image_matches_recomputation():
  model, params, tokens, mask, images, image_mask = _setup()
  got, lengths = decoding.generate(model, params, tokens, mask,
                                   images=images, image_mask=image_mask,
                                   max_new_tokens=4)
  assert lengths.tolist() == [4, 4]
  seq, seq_mask = tokens, mask
  for _ in range(4):
    logits = model.apply(params, seq, seq_mask, None, images, image_mask)
    nxt = jnp.argmax(logits[:, -1], -1).astype(jnp.int32)[:, None]
    seq = jnp.concatenate([seq, nxt], 1)
    seq_mask = jnp.concatenate([seq_mask, jnp.ones((2, 1), bool)], 1)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(seq[:, 5:]))

"""Causal text Transformer with the parameter layout of OpenAI CLIP's text tower."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import layers


def eot_positions(tokens: jax.Array, eot_id: int) -> jax.Array:
  """Index of the first end-of-text token of each row (last index if none)."""
  is_eot = tokens == eot_id
  last = tokens.shape[-1] - 1
  return jnp.where(is_eot.any(-1), jnp.argmax(is_eot, axis=-1), last)


class TextTransformer(nn.Module):
  """Token + position embedding, causal Transformer, end-of-text pooling.

  As in CLIP, the causal mask means a token only sees the ones before it, so
  the end-of-text token summarises the sentence and padding after it has no
  effect. Returns `(embedding, tokens, mask)`: the projected end-of-text
  feature `(B, output_dim)`, all token features after `ln_final`
  `(B, L, width)`, and the valid-token mask `(B, L)` (positions up to and
  including end-of-text).
  """

  vocab_size: int
  context_length: int
  width: int
  num_layers: int
  num_heads: int
  output_dim: int
  eot_id: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS

  @nn.compact
  def __call__(self, tokens: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
    length = tokens.shape[-1]
    if length > self.context_length:
      raise ValueError(f"text tower has context length {self.context_length}, "
                       f"got token sequences of length {length}")
    x = nn.Embed(self.vocab_size, self.width,
                 embedding_init=nn.initializers.normal(0.02),
                 dtype=self.dtype, name="token_embedding")(tokens)
    pos = self.param("positional_embedding", nn.initializers.normal(0.01),
                     (self.context_length, self.width))
    x = x + pos[:length].astype(self.dtype)
    causal = nn.make_causal_mask(tokens)
    x = layers.Transformer(self.num_layers, self.num_heads, self.mlp_ratio,
                           self.activation, self.dropout_rate, self.dtype,
                           self.layer_norm_eps,
                           name="transformer")(x, causal, train=train)
    x = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_final")(x)
    eot = eot_positions(tokens, self.eot_id)
    pooled = jnp.take_along_axis(x, eot[:, None, None], axis=1)[:, 0]
    proj = self.param("text_projection",
                      nn.initializers.normal(self.width ** -0.5),
                      (self.width, self.output_dim))
    mask = jnp.arange(length)[None, :] <= eot[:, None]
    return pooled @ proj.astype(self.dtype), x, mask

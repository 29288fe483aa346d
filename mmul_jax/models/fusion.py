"""Multimodal fusion encoder with a joint [CLS] and an image-text-matching head."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import layers


class FusionEncoder(nn.Module):
  """ALBEF-style fusion: text tokens cross-attend to the other modality.

  A learned joint [CLS] is prepended to the (projected) text tokens; each
  layer runs masked self-attention over [CLS; text], cross-attention to the
  context tokens (image patches, or graph nodes), and an MLP. The final [CLS]
  is the multimodal representation that MMUL's multimodal-retention loss
  keeps, and the matching head classifies it as matched / not matched.

  Returns `(cls, itm_logits)` with shapes `(B, width)` and `(B, 2)`; logit 1
  is "matched".
  """

  width: int
  num_layers: int
  num_heads: int
  mlp_ratio: float = 4.0
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS

  @nn.compact
  def __call__(self, text_tokens: jax.Array, text_mask: jax.Array,
               context_tokens: jax.Array, context_mask: jax.Array | None = None,
               *, train: bool) -> tuple[jax.Array, jax.Array]:
    batch = text_tokens.shape[0]
    x = nn.Dense(self.width, dtype=self.dtype, name="text_in")(text_tokens)
    ctx = nn.Dense(self.width, dtype=self.dtype,
                   name="context_in")(context_tokens)
    cls = self.param("cls", nn.initializers.normal(0.02), (self.width,))
    cls = jnp.broadcast_to(cls.astype(self.dtype), (batch, 1, self.width))
    x = jnp.concatenate([cls, x], axis=1)
    valid = jnp.concatenate(
        [jnp.ones((batch, 1), bool), text_mask.astype(bool)], axis=1)
    self_mask = nn.make_attention_mask(valid, valid)
    for i in range(self.num_layers):
      x = layers.CrossAttentionBlock(
          self.num_heads, self.mlp_ratio, "gelu", self.dropout_rate,
          self.dtype, self.layer_norm_eps, name=f"layers_{i}")(
              x, ctx, self_mask, context_mask=context_mask, train=train)
    x = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_final")(x)
    cls_out = x[:, 0]
    itm_logits = nn.Dense(2, dtype=self.dtype, name="itm_head")(cls_out)
    return cls_out, itm_logits

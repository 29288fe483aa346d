"""BERT's post-LN layers under Hugging Face's module names
(`attention/self/query`, `attention/output/LayerNorm`, `crossattention`,
`intermediate/dense`, `output/dense`, `layer_{i}`), shared by the models
whose text encoder is BERT's (BLIP, ALBEF): a checkpoint imports by name
(`pretrained.hf_state`)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from mmul_jax.models import layers

_gelu = layers.ACTIVATIONS["gelu_exact"]  # Hugging Face's "gelu"


class BertSelfAttention(nn.Module):
  """`self`: query from `x`; key and value from `source` (`x` itself, or
  the image tokens in cross-attention). VideoMAE's has no key bias and
  query and value biases only with `qv_bias`."""

  num_heads: int
  dtype: Any = jnp.float32
  key_bias: bool = True
  qv_bias: bool = True

  @nn.compact
  def __call__(self, x, source, mask):
    dense = lambda name, bias: nn.Dense(x.shape[-1], use_bias=bias,
                                        dtype=self.dtype, name=name)
    return layers.attend(dense("query", self.qv_bias)(x),
                         dense("key", self.key_bias)(source),
                         dense("value", self.qv_bias)(source), mask,
                         self.num_heads, self.dtype)


class BertOutput(nn.Module):
  """`output`: a Linear back to the residual's width, then post-LN."""

  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, h, residual):
    h = nn.Dense(residual.shape[-1], dtype=self.dtype, name="dense")(h)
    return nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                        name="LayerNorm")(h + residual)


class BertAttention(nn.Module):
  num_heads: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask, source=None):
    h = BertSelfAttention(self.num_heads, self.dtype, name="self")(
        x, x if source is None else source, mask)
    return BertOutput(self.eps, self.dtype, name="output")(h, x)


class BertIntermediate(nn.Module):
  mlp_dim: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    return _gelu(nn.Dense(self.mlp_dim, dtype=self.dtype, name="dense")(x))


class BertLayer(nn.Module):
  """Self-attention, cross-attention to `context` when given, the MLP."""

  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask, context=None, context_mask=None):
    x = BertAttention(self.num_heads, self.eps, self.dtype,
                      name="attention")(x, mask)
    if context is not None:
      x = BertAttention(self.num_heads, self.eps, self.dtype,
                        name="crossattention")(x, context_mask, context)
    h = BertIntermediate(self.mlp_dim, self.dtype, name="intermediate")(x)
    return BertOutput(self.eps, self.dtype, name="output")(h, x)


class BertEmbeddings(nn.Module):
  """Word + position embeddings, then LayerNorm; with `type_vocab_size`,
  also token type 0's (ViLT's; BLIP's and LAVIS's ALBEF have none). Token
  `i` reads position `position_offset + i` (RoBERTa's: its padding id +
  1; a padding token's own position differs there, which no other token
  sees)."""

  vocab_size: int
  max_positions: int
  width: int
  eps: float
  dtype: Any = jnp.float32
  type_vocab_size: int = 0
  position_offset: int = 0

  @nn.compact
  def __call__(self, ids):
    if ids.shape[1] + self.position_offset > self.max_positions:
      raise ValueError(f"texts of {ids.shape[1]} tokens exceed the "
                       f"{self.max_positions - self.position_offset} "
                       "positions of the text encoder")
    x = nn.Embed(self.vocab_size, self.width, dtype=self.dtype,
                 name="word_embeddings")(ids)
    if self.type_vocab_size:
      x = x + nn.Embed(self.type_vocab_size, self.width, dtype=self.dtype,
                       name="token_type_embeddings")(jnp.zeros_like(ids))
    pos = nn.Embed(self.max_positions, self.width, dtype=self.dtype,
                   name="position_embeddings")(
                       self.position_offset + jnp.arange(ids.shape[1]))
    return nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                        name="LayerNorm")(x + pos[None])


class BertEncoder(nn.Module):
  """`layer_{i}` for i in [`start`, `stop`) of `num_layers` (ALBEF runs
  its text layers and its fusion layers as two passes), each
  cross-attending to `context` when given."""

  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask, context=None, context_mask=None, *,
               start: int = 0, stop: int | None = None):
    for i in range(start, self.num_layers if stop is None else stop):
      x = BertLayer(self.num_heads, self.mlp_dim, self.eps, self.dtype,
                    name=f"layer_{i}")(x, mask, context, context_mask)
    return x

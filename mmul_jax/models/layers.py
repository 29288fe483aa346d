"""Transformer building blocks shared by the image, text and fusion towers.

Parameter names follow OpenAI CLIP (`ln_1`, `attn`, `ln_2`, `mlp/c_fc`,
`mlp/c_proj`, `resblocks_{i}`) so that checkpoint import is a renaming, not a
re-architecture.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Dtype = Any


def quick_gelu(x: jax.Array) -> jax.Array:
  """The sigmoid approximation of GELU that OpenAI CLIP was trained with."""
  return x * jax.nn.sigmoid(1.702 * x)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "quick_gelu": quick_gelu,
    "gelu": nn.gelu,  # tanh approximation (PyTorch's "gelu_pytorch_tanh")
    "gelu_exact": lambda x: nn.gelu(x, approximate=False),  # erf (torch's)
}
# Flax's LayerNorm epsilon; OpenAI and Hugging Face CLIP use 1e-5.
DEFAULT_LN_EPS = 1e-6


def attend(q, k, v, mask, num_heads: int, dtype) -> jax.Array:
  """Scaled dot-product attention over `(B, T, W)` inputs, heads split
  from the width as Hugging Face's layers do; `mask` `(B, S)` of the keys
  that may be attended to, `(B, T, S)` per query (a causal decoder's), or
  None. Softmax in float32."""
  b, t, w = q.shape
  split = lambda x: x.reshape(x.shape[0], x.shape[1], num_heads, -1)
  q, k, v = split(q), split(k), split(v)
  scores = jnp.einsum("bthd,bshd->bhts", q, k) / np.sqrt(q.shape[-1])
  if mask is not None:
    per_query = mask[:, None] if mask.ndim == 3 else mask[:, None, None, :]
    scores = jnp.where(per_query, scores, jnp.finfo(scores.dtype).min)
  probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(dtype)
  return jnp.einsum("bhts,bshd->bthd", probs, v).reshape(b, t, w)


class FusedQkvAttention(nn.Module):
  """Self-attention with q, k, v from one fused `qkv` Linear and an output
  Linear named `out_name` (timm's and BLIP's image encoders: `proj`,
  `projection`)."""

  num_heads: int
  out_name: str
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    w = x.shape[-1]
    qkv = nn.Dense(3 * w, dtype=self.dtype, name="qkv")(x)
    q, k, v = jnp.split(qkv, 3, axis=-1)
    out = attend(q, k, v, None, self.num_heads, self.dtype)
    return nn.Dense(w, dtype=self.dtype, name=self.out_name)(out)


class ProjAttention(nn.Module):
  """Self-attention with biased `q_proj`, `k_proj`, `v_proj` and
  `out_proj` Linears (Hugging Face's CLIP, wav2vec 2.0 and HuBERT
  layers)."""

  num_heads: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    w = x.shape[-1]
    dense = lambda name: nn.Dense(w, dtype=self.dtype, name=name)
    out = attend(dense("q_proj")(x), dense("k_proj")(x), dense("v_proj")(x),
                 None, self.num_heads, self.dtype)
    return dense("out_proj")(out)


class FcMlp(nn.Module):
  """`fc1`, the activation (the exact (erf) GELU unless told), `fc2` back
  to the input's width (timm's and Hugging Face's image-encoder MLPs;
  CLIP's with `quick_gelu`)."""

  mlp_dim: int
  dtype: Dtype = jnp.float32
  activation: str = "gelu_exact"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = nn.Dense(self.mlp_dim, dtype=self.dtype, name="fc1")(x)
    h = ACTIVATIONS[self.activation](h)
    return nn.Dense(x.shape[-1], dtype=self.dtype, name="fc2")(h)


class MlpBlock(nn.Module):
  """Two-layer MLP with a `mlp_ratio` times wider hidden layer."""

  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    width = x.shape[-1]
    y = nn.Dense(int(width * self.mlp_ratio), dtype=self.dtype,
                 name="c_fc")(x)
    y = ACTIVATIONS[self.activation](y)
    y = nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    return nn.Dense(width, dtype=self.dtype, name="c_proj")(y)


def _attention(num_heads: int, dropout_rate: float, dtype: Dtype, name: str):
  return nn.MultiHeadDotProductAttention(
      num_heads=num_heads, dropout_rate=dropout_rate, dtype=dtype,
      name=name)


class ResidualAttentionBlock(nn.Module):
  """Pre-LayerNorm self-attention block (CLIP `ResidualAttentionBlock`)."""

  num_heads: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Dtype = jnp.float32
  layer_norm_eps: float = DEFAULT_LN_EPS

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array | None, *,
               train: bool) -> jax.Array:
    y = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_1")(x)
    y = _attention(self.num_heads, self.dropout_rate, self.dtype, "attn")(
        y, mask=mask, deterministic=not train)
    x = x + nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    y = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_2")(x)
    y = MlpBlock(self.mlp_ratio, self.activation, self.dropout_rate,
                 self.dtype, name="mlp")(y, train=train)
    return x + nn.Dropout(self.dropout_rate)(y, deterministic=not train)


class Transformer(nn.Module):
  """A stack of `ResidualAttentionBlock`s."""

  num_layers: int
  num_heads: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Dtype = jnp.float32
  layer_norm_eps: float = DEFAULT_LN_EPS

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array | None = None, *,
               train: bool) -> jax.Array:
    for i in range(self.num_layers):
      x = ResidualAttentionBlock(
          self.num_heads, self.mlp_ratio, self.activation, self.dropout_rate,
          self.dtype, self.layer_norm_eps,
          name=f"resblocks_{i}")(x, mask, train=train)
    return x


class CrossAttentionBlock(nn.Module):
  """Self-attention over text, cross-attention to image tokens, then MLP.

  The ALBEF/BLIP fusion layer: text tokens (with the joint [CLS]) attend to
  each other under `self_mask` and to all image tokens.
  """

  num_heads: int
  mlp_ratio: float = 4.0
  activation: str = "gelu"
  dropout_rate: float = 0.0
  dtype: Dtype = jnp.float32
  layer_norm_eps: float = DEFAULT_LN_EPS

  @nn.compact
  def __call__(self, x: jax.Array, context: jax.Array,
               self_mask: jax.Array | None, *,
               context_mask: jax.Array | None = None,
               train: bool) -> jax.Array:
    drop = lambda y: nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    y = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_1")(x)
    y = _attention(self.num_heads, self.dropout_rate, self.dtype, "attn")(
        y, mask=self_mask, deterministic=not train)
    x = x + drop(y)
    y = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_cross")(x)
    cross_mask = None
    if context_mask is not None:  # e.g. padding nodes of a graph batch
      cross_mask = nn.make_attention_mask(
          jnp.ones(x.shape[:2], bool), context_mask.astype(bool))
    y = _attention(self.num_heads, self.dropout_rate, self.dtype,
                   "cross_attn")(y, context, mask=cross_mask,
                                 deterministic=not train)
    x = x + drop(y)
    y = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_2")(x)
    y = MlpBlock(self.mlp_ratio, self.activation, self.dropout_rate,
                 self.dtype, name="mlp")(y, train=train)
    return x + drop(y)


class PatchConv(nn.Module):
  """ViT patches as one strided conv named `conv_name` (timm's `proj`,
  Hugging Face ViT's `projection`), flattened to `(B, patches, width)`."""

  width: int
  patch_size: int
  conv_name: str
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, images):
    p = self.patch_size
    x = nn.Conv(self.width, (p, p), strides=(p, p), dtype=self.dtype,
                name=self.conv_name)(images.astype(self.dtype))
    return x.reshape(x.shape[0], -1, self.width)

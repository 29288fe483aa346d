"""CLIP's vision transformer in Hugging Face's layout (`CLIPVisionModel`'s
`vision_model`), the tower LLaVA-1.5 reads: `embeddings` (a bias-free
patch conv, `class_embedding`, a `position_embedding` table),
`pre_layrnorm` (sic), pre-LN `encoder.layers` (`self_attn` with
`q_proj`, `k_proj`, `v_proj`, `out_proj`; `layer_norm1`, `mlp` `fc1`,
`fc2` with `quick_gelu`; `layer_norm2`) and `post_layernorm`, which
Hugging Face applies to the pooled [CLS] only.

Calling it gives every hidden state as transformers' `hidden_states`
lists them (the pre-LN'd embeddings first, then each layer's output), so
a caller picks the layer it reads (LLaVA: the penultimate one), and the
pooled [CLS]. Parameters carry the checkpoint's names, so it imports by
name (`pretrained.hf_state`).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import layers


class _Embeddings(nn.Module):
  image_size: int
  patch_size: int
  width: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images):
    p, w = self.patch_size, self.width
    x = nn.Conv(w, (p, p), strides=(p, p), use_bias=False, dtype=self.dtype,
                name="patch_embedding")(images.astype(self.dtype))
    x = x.reshape(x.shape[0], -1, w)
    cls = self.param("class_embedding", nn.initializers.normal(0.02), (w,))
    cls = jnp.broadcast_to(cls.astype(self.dtype), (x.shape[0], 1, w))
    x = jnp.concatenate([cls, x], axis=1)
    pos = nn.Embed(x.shape[1], w, dtype=self.dtype,
                   name="position_embedding")(jnp.arange(x.shape[1]))
    return x + pos[None]


class _Layer(nn.Module):
  num_heads: int
  mlp_dim: int
  activation: str
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    x = x + layers.ProjAttention(self.num_heads, self.dtype,
                                 name="self_attn")(norm("layer_norm1")(x))
    return x + layers.FcMlp(self.mlp_dim, self.dtype, self.activation,
                            name="mlp")(norm("layer_norm2")(x))


class _Encoder(nn.Module):
  num_layers: int
  num_heads: int
  mlp_dim: int
  activation: str
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x) -> list[jax.Array]:
    states = [x]
    for i in range(self.num_layers):
      x = _Layer(self.num_heads, self.mlp_dim, self.activation, self.eps,
                 self.dtype, name=f"layers_{i}")(x)
      states.append(x)
    return states


class ClipVision(nn.Module):
  """`(hidden_states, pooled)`: the `num_layers + 1` hidden states `(B, 1 +
  patches, width)` and `post_layernorm` of the last one's [CLS]."""

  image_size: int
  patch_size: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  activation: str = "quick_gelu"
  eps: float = 1e-5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array):
    if images.shape[1:3] != (self.image_size, self.image_size):
      raise ValueError(f"CLIP's vision tower expects {self.image_size}x"
                       f"{self.image_size} images, got shape {images.shape}")
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    x = _Embeddings(self.image_size, self.patch_size, self.width, self.dtype,
                    name="embeddings")(images)
    states = _Encoder(self.num_layers, self.num_heads, self.mlp_dim,
                      self.activation, self.eps, self.dtype,
                      name="encoder")(norm("pre_layrnorm")(x))
    return states, norm("post_layernorm")(states[-1][:, 0])

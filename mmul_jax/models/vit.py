"""ViT image tower with the parameter layout of OpenAI CLIP's `VisionTransformer`."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import layers


class VisionTransformer(nn.Module):
  """Patchify, prepend [CLS], pre-LN Transformer, project the [CLS].

  Returns `(embedding, tokens)`: the projected (unnormalised) [CLS] of shape
  `(B, output_dim)`, and all `1 + num_patches` tokens after `ln_post`, shape
  `(B, 1 + N, width)`, which the fusion encoder attends to.

  Inputs are `(B, H, W, C)`, any channel count; `image_size` is H = W, or
  `(H, W)` (a spectrogram's frames and mel bands, as AST reads them).
  With `num_frames`, inputs are clips `(B, T, H, W, C)` cut into tubelets
  of `tubelet_size` frames (ViViT's tubelet embedding), one token each.
  """

  image_size: int | tuple[int, int]
  patch_size: int
  width: int
  num_layers: int
  num_heads: int
  output_dim: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS
  num_frames: int = 0
  tubelet_size: int = 1

  @nn.compact
  def __call__(self, images: jax.Array, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    size = self.image_size
    want = (*((self.num_frames,) if self.num_frames else ()),
            *((size, size) if isinstance(size, int) else size))
    if tuple(images.shape[1:-1]) != want:
      raise ValueError(
          f"image tower expects {'x'.join(map(str, want))} inputs, got "
          f"shape {images.shape}")
    p = self.patch_size
    kernel = ((self.tubelet_size,) if self.num_frames else ()) + (p, p)
    x = nn.Conv(self.width, kernel, strides=kernel, use_bias=False,
                dtype=self.dtype, name="conv1")(images.astype(self.dtype))
    x = x.reshape(x.shape[0], -1, self.width)
    scale = self.width ** -0.5
    init = nn.initializers.normal(stddev=scale)
    cls = self.param("class_embedding", init, (self.width,))
    num_tokens = x.shape[1] + 1
    pos = self.param("positional_embedding", init, (num_tokens, self.width))
    cls = jnp.broadcast_to(cls.astype(self.dtype), (x.shape[0], 1, self.width))
    x = jnp.concatenate([cls, x], axis=1) + pos.astype(self.dtype)
    x = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_pre")(x)
    x = layers.Transformer(self.num_layers, self.num_heads, self.mlp_ratio,
                           self.activation, self.dropout_rate, self.dtype,
                           self.layer_norm_eps,
                           name="transformer")(x, train=train)
    x = nn.LayerNorm(epsilon=self.layer_norm_eps, dtype=self.dtype,
                     name="ln_post")(x)
    proj = self.param("proj", init, (self.width, self.output_dim))
    return x[:, 0] @ proj.astype(self.dtype), x

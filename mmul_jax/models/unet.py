"""A small text-conditioned UNet for diffusion (Stable Diffusion's shape
at toy scale): residual blocks with the timestep's embedding added,
self- and cross-attention to the caption's tokens at the resolutions
`attention_levels` names, down- and up-sampling with skip connections.

The caption is read by the project's causal text tower
(`models.text_transformer`, CLIP's layout), trained with the UNet. A row
whose `uncond` flag is set reads a learned null context instead (one
token): classifier-free guidance trains it by dropping captions and
samples with both (`diffusion.sampling`).

`__call__(x_t, t, text, uncond)` predicts the model's target (noise or
v, `diffusion.schedule`) for noisy images `x_t` `(B, H, W, 3)` at integer
timesteps `t` `(B,)`; `encode_text` gives the caption tokens it reads.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.models import layers
from mmul_jax.models import text_transformer


def timestep_embedding(t: jax.Array, dim: int,
                       max_period: float = 10000.0) -> jax.Array:
  """Sinusoidal features `(B, dim)` of integer timesteps (cos, then sin)."""
  half = dim // 2
  freqs = jnp.exp(-np.log(max_period) * jnp.arange(half, dtype=jnp.float32)
                  / half)
  args = t.astype(jnp.float32)[:, None] * freqs[None]
  return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


def _norm(channels: int, dtype, name=None):
  return nn.GroupNorm(num_groups=min(8, channels), dtype=dtype, name=name)


class ResBlock(nn.Module):
  channels: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, temb):
    h = nn.Conv(self.channels, (3, 3), dtype=self.dtype,
                name="conv1")(nn.silu(_norm(x.shape[-1], self.dtype)(x)))
    h = h + nn.Dense(self.channels, dtype=self.dtype,
                     name="time")(nn.silu(temb))[:, None, None]
    h = nn.Conv(self.channels, (3, 3), dtype=self.dtype,
                name="conv2")(nn.silu(_norm(self.channels, self.dtype)(h)))
    if x.shape[-1] != self.channels:
      x = nn.Conv(self.channels, (1, 1), dtype=self.dtype, name="skip")(x)
    return x + h


class AttentionBlock(nn.Module):
  """Self-attention over the pixels, cross-attention to the caption's
  tokens (masked), a GELU MLP; each pre-normed and residual."""

  num_heads: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, context, context_mask):
    b, h, w, c = x.shape
    y = _norm(c, self.dtype)(x).reshape(b, h * w, c)
    y = nn.Dense(c, dtype=self.dtype, name="proj_in")(y)
    ln = lambda name: nn.LayerNorm(dtype=self.dtype, name=name)
    dense = lambda n, name: nn.Dense(n, dtype=self.dtype, name=name)
    z = ln("norm1")(y)
    y = y + dense(c, "self_out")(layers.attend(
        dense(c, "self_q")(z), dense(c, "self_k")(z), dense(c, "self_v")(z),
        None, self.num_heads, self.dtype))
    z = ln("norm2")(y)
    y = y + dense(c, "cross_out")(layers.attend(
        dense(c, "cross_q")(z), dense(c, "cross_k")(context),
        dense(c, "cross_v")(context), context_mask, self.num_heads,
        self.dtype))
    y = y + dense(c, "mlp_out")(nn.gelu(dense(4 * c, "mlp_in")(
        ln("norm3")(y))))
    return x + nn.Dense(c, dtype=self.dtype,
                        name="proj_out")(y).reshape(b, h, w, c)


class TextToImageUNet(nn.Module):
  """Attributes: the image's `image_size`, the UNet's `channels` per level
  (each level but the last halves the resolution), `attention_levels`
  (the levels with attention; the middle always has it), `num_heads`; the
  text tower's `vocab_size`, `context_length`, `text_width`,
  `text_layers`, `text_heads`, `eot_id` (and CLIP's `embed_dim`,
  `mlp_ratio`, `activation`, `layer_norm_eps`: a CLIP checkpoint's text
  tower fits it, `pretrained.unet_text_weights`)."""

  image_size: int
  channels: tuple[int, ...]
  attention_levels: tuple[int, ...]
  num_heads: int
  vocab_size: int
  context_length: int
  text_width: int
  text_layers: int
  text_heads: int
  eot_id: int
  # CLIP's text tower's other sizes (its projection is unread here but
  # kept, so a CLIP checkpoint's tower fits whole).
  embed_dim: int = 0  # 0: text_width
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  layer_norm_eps: float = layers.DEFAULT_LN_EPS
  dtype: Any = jnp.float32

  def setup(self):
    self.txt = text_transformer.TextTransformer(
        self.vocab_size, self.context_length, self.text_width,
        self.text_layers, self.text_heads,
        self.embed_dim or self.text_width, self.eot_id,
        mlp_ratio=self.mlp_ratio, activation=self.activation,
        dtype=self.dtype, layer_norm_eps=self.layer_norm_eps)
    self.null_context = self.param("null_context",
                                   nn.initializers.normal(0.02),
                                   (1, self.text_width))
    self.unet = _UNet(self.channels, self.attention_levels, self.num_heads,
                      self.dtype)

  def encode_text(self, text: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The caption's tokens `(B, L, text_width)` and their mask."""
    _, tokens, mask = self.txt(text, train=False)
    return tokens, mask

  def __call__(self, x_t, t, text, uncond=None):
    if x_t.shape[1:3] != (self.image_size, self.image_size):
      raise ValueError(f"the UNet expects {self.image_size}x"
                       f"{self.image_size} images, got {x_t.shape}")
    context, mask = self.encode_text(text)
    if uncond is not None:  # the null context: its first token only
      null = jnp.broadcast_to(self.null_context.astype(context.dtype),
                              context.shape)
      first = jnp.arange(context.shape[1]) == 0
      drop = uncond.astype(bool)[:, None]
      context = jnp.where(drop[..., None], null, context)
      mask = jnp.where(drop, first[None], mask)
    return self.unet(x_t, t, context, mask)


class _UNet(nn.Module):
  channels: tuple[int, ...]
  attention_levels: tuple[int, ...]
  num_heads: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, t, context, mask):
    c0 = self.channels[0]
    temb = timestep_embedding(t, c0)
    temb = nn.Dense(4 * c0, dtype=self.dtype, name="time_in")(temb)
    temb = nn.Dense(4 * c0, dtype=self.dtype,
                    name="time_out")(nn.silu(temb))
    h = nn.Conv(c0, (3, 3), dtype=self.dtype, name="conv_in")(
        x.astype(self.dtype))
    skips = [h]
    last = len(self.channels) - 1
    for i, ch in enumerate(self.channels):
      h = ResBlock(ch, self.dtype, name=f"down_{i}_res")(h, temb)
      if i in self.attention_levels:
        h = AttentionBlock(self.num_heads, self.dtype,
                           name=f"down_{i}_attn")(h, context, mask)
      skips.append(h)
      if i != last:
        h = nn.Conv(ch, (3, 3), strides=(2, 2), dtype=self.dtype,
                    name=f"down_{i}_sample")(h)
        skips.append(h)
    h = ResBlock(self.channels[-1], self.dtype, name="mid_res1")(h, temb)
    h = AttentionBlock(self.num_heads, self.dtype, name="mid_attn")(
        h, context, mask)
    h = ResBlock(self.channels[-1], self.dtype, name="mid_res2")(h, temb)
    for i in reversed(range(len(self.channels))):
      ch = self.channels[i]
      for j in range(2):  # this resolution's two skips
        h = jnp.concatenate([h, skips.pop()], axis=-1)
        h = ResBlock(ch, self.dtype, name=f"up_{i}_res{j}")(h, temb)
        if i in self.attention_levels:
          h = AttentionBlock(self.num_heads, self.dtype,
                             name=f"up_{i}_attn{j}")(h, context, mask)
      if i:
        b, hh, ww, cc = h.shape
        h = jax.image.resize(h, (b, 2 * hh, 2 * ww, cc), "nearest")
        h = nn.Conv(self.channels[i - 1], (3, 3), dtype=self.dtype,
                    name=f"up_{i}_sample")(h)
    h = nn.silu(_norm(h.shape[-1], self.dtype)(h))
    return nn.Conv(3, (3, 3), dtype=self.dtype,
                   name="conv_out")(h).astype(jnp.float32)

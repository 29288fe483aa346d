"""BLIP's captioning model (`BlipForConditionalGeneration`'s layout): the
ViT image encoder of `models.blip` and a BERT text decoder whose layers
attend causally to the text and cross-attend to every image token, with
BERT's language-model head (`cls.predictions`: dense, GELU, LayerNorm,
then the vocabulary projection and its bias).

Parameters carry Hugging Face's names (`vision_model`, `text_decoder/
bert/...`, `text_decoder/cls/predictions/...`), so a checkpoint imports by
name (`pretrained.blip_caption_weights`); parity with transformers is in
tests/models/blip_caption_golden_test.py.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import bert
from mmul_jax.models import blip


class _Predictions(nn.Module):
  """`cls/predictions/transform`: a dense layer, GELU, LayerNorm."""

  vocab_size: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    h = nn.Dense(x.shape[-1], dtype=self.dtype, name="dense")(x)
    h = nn.LayerNorm(epsilon=self.eps, dtype=self.dtype, name="LayerNorm")(
        bert._gelu(h))  # pylint: disable=protected-access
    return h


class TextDecoder(nn.Module):
  """`text_decoder`: `bert` (embeddings, causal layers with
  cross-attention) and `cls`. Shared with `blip_vqa`, whose decoder
  cross-attends to a padded question (`context_mask`) rather than to every
  image token (the default)."""

  vocab_size: int
  max_positions: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-12
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, ids, mask, context, context_mask=None):
    t = ids.shape[1]
    causal = jnp.tril(jnp.ones((t, t), bool))[None] & mask[:, None, :]
    if context_mask is None:
      context_mask = jnp.ones(context.shape[:2], bool)
    # BLIP's text tower (embeddings and BERT layers), run causally.
    text = blip.BlipText(self.vocab_size, self.max_positions, self.width,
                         self.num_layers, self.num_heads, self.mlp_dim,
                         self.eps, self.dtype, name="bert")
    x = text(text.embed(ids), causal, context, context_mask)
    return _Cls(self.vocab_size, self.eps, self.dtype,
                name="cls")(x).astype(jnp.float32)


class _Cls(nn.Module):
  """`cls`: its `predictions` head."""

  vocab_size: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    return _Head(self.vocab_size, self.eps, self.dtype,
                 name="predictions")(x)


class _Head(nn.Module):
  """`predictions`: `transform`, `decoder` (no bias of its own) + `bias`."""

  vocab_size: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    h = _Predictions(self.vocab_size, self.eps, self.dtype,
                     name="transform")(x)
    bias = self.param("bias", nn.initializers.zeros, (self.vocab_size,))
    return nn.Dense(self.vocab_size, use_bias=False, dtype=self.dtype,
                    name="decoder")(h) + bias


class BlipCaptioner(nn.Module):
  """`BlipForConditionalGeneration`: `__call__(images, ids, mask)` gives
  the next-token logits `(B, T, V)` (float32) of the text `ids` (the
  decoder's [DEC] first) conditioned on the images."""

  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  vision_mlp_dim: int
  vocab_size: int
  max_positions: int
  text_width: int
  text_layers: int
  text_heads: int
  text_mlp_dim: int
  vision_eps: float = 1e-5
  text_eps: float = 1e-12
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array, ids: jax.Array, mask=None, *,
               train: bool = False):
    del train  # no dropout
    if mask is None:
      mask = jnp.ones(ids.shape, bool)
    image_tokens = blip.BlipVision(
        self.image_size, self.patch_size, self.vision_width,
        self.vision_layers, self.vision_heads, self.vision_mlp_dim,
        self.vision_eps, self.dtype, name="vision_model")(images)
    return TextDecoder(self.vocab_size, self.max_positions,
                       self.text_width, self.text_layers, self.text_heads,
                       self.text_mlp_dim, self.text_eps, self.dtype,
                       name="text_decoder")(ids, mask, image_tokens)

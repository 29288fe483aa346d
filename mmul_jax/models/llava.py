"""An image-conditioned language model in LLaVA's layout: a ViT vision
tower (BLIP's, under Hugging Face's names: `models.blip.BlipVision`), a
two-layer GELU projector (`multi_modal_projector`: `linear_1`,
`linear_2`) from the tower's patch tokens to the decoder's width, and the
Llama-layout decoder (`language_model`, `models.llama`) reading the
projected image tokens before the text.

One module serves training, scoring and cached decoding, as
`LlamaForCausalLM` does, with two more inputs: `images` `(B, H, W, 3)`
and `image_mask` `(B,)`, whether each row has an image. A row without
one (a question answerable from the name alone) masks its image tokens
out, so its text starts at position 0 and it reads exactly what a
text-only model would. The outputs cover the text tokens only; a cache
(`llama.init_cache` with `num_image_tokens` more slots:
`models.decoding.generate`) holds both.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import blip
from mmul_jax.models import llama


class Projector(nn.Module):
  """`multi_modal_projector`: Dense, GELU, Dense (LLaVA-1.5's)."""

  width: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = nn.Dense(self.width, dtype=self.dtype, name="linear_1")(x)
    return nn.Dense(self.width, dtype=self.dtype, name="linear_2")(
        nn.gelu(x, approximate=False))


class VisionLanguageModel(nn.Module):
  """`__call__(tokens, mask, cache, images, image_mask)`: the next-token
  logits `(B, T, V)` of the text (module docstring); `hidden` as
  `LlamaForCausalLM`'s. `encode_image` gives the vision tower's tokens
  (what unimodal retention keeps)."""

  cfg: llama.LlamaConfig
  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  vision_mlp_dim: int
  vision_eps: float = 1e-5
  dtype: Any = jnp.float32
  remat: bool = False

  @property
  def num_image_tokens(self) -> int:
    """The patch tokens each image adds (the class token is dropped, as
    LLaVA drops it)."""
    return (self.image_size // self.patch_size) ** 2

  def setup(self):
    self.vision_tower = blip.BlipVision(
        self.image_size, self.patch_size, self.vision_width,
        self.vision_layers, self.vision_heads, self.vision_mlp_dim,
        self.vision_eps, self.dtype)
    self.multi_modal_projector = Projector(self.cfg.hidden_size, self.dtype)
    self.language_model = llama.LlamaForCausalLM(self.cfg, self.dtype,
                                                 self.remat)

  def encode_image(self, images: jax.Array) -> jax.Array:
    """The vision tower's tokens `(B, 1 + patches, vision_width)`."""
    return self.vision_tower(images)

  def __call__(self, tokens, mask=None, cache=None, images=None,
               image_mask=None, *, hidden=False, train: bool = False):
    del train  # no dropout
    if mask is None:
      mask = jnp.ones(tokens.shape, bool)
    prefix = None
    if images is not None:
      b = tokens.shape[0]
      vectors = self.multi_modal_projector(self.encode_image(images)[:, 1:])
      present = (jnp.ones((b,), bool) if image_mask is None
                 else image_mask.astype(bool))
      prefix = (vectors, jnp.broadcast_to(present[:, None],
                                          vectors.shape[:2]))
    return self.language_model(tokens, mask, cache, hidden=hidden,
                               prefix=prefix)


"""An image-conditioned language model in LLaVA's layout: a ViT vision
tower under Hugging Face's names (BLIP's, `models.blip.BlipVision`, or
CLIP's, `models.clip_vision.ClipVision`, read at `feature_layer`:
LLaVA-1.5's penultimate layer), a two-layer GELU projector
(`multi_modal_projector`: `linear_1`, `linear_2`) from the tower's patch
tokens to the decoder's width, and the Llama-layout decoder
(`language_model`, `models.llama`) reading the projected image tokens.

Where the image tokens go: before the text (`image_token_id` < 0, the
models trained here from scratch), or, as LLaVA-1.5 and transformers'
`LlavaForConditionalGeneration` place them, in place of the prompt's
`image_token_id` placeholders (`num_image_tokens` of them in a row with
an image, none in a row without; `data.prompt_template` writes them).

One module serves training, scoring and cached decoding, as
`LlamaForCausalLM` does, with two more inputs: `images` `(B, H, W, 3)`
and `image_mask` `(B,)`, whether each row has an image. A row without
one (a question answerable from the name alone) masks its image tokens
out, so its text starts at position 0 and it reads exactly what a
text-only model would. The outputs cover the text tokens only; a cache
(`llama.init_cache` with `num_prefix_tokens` more slots:
`models.decoding.generate`) holds both.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import blip
from mmul_jax.models import clip_vision
from mmul_jax.models import llama

VISION_TOWERS = ("blip", "clip")


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
  (what unimodal retention keeps).

  vision: "blip" (every token after `post_layernorm`) or "clip" (the
    hidden state `feature_layer`, `quick_gelu` unless `vision_act` says).
  keep_cls: the projector reads the [CLS] too (LLaVA's "full" feature
    strategy; "default" drops it).
  image_token_id: the placeholder the image tokens replace; -1: they go
    before the text.
  """

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
  vision: str = "blip"
  vision_act: str = "quick_gelu"
  feature_layer: int = -2
  keep_cls: bool = False
  image_token_id: int = -1

  @property
  def num_image_tokens(self) -> int:
    """The tokens each image adds: its patches (and its [CLS] with
    `keep_cls`)."""
    return (self.image_size // self.patch_size) ** 2 + int(self.keep_cls)

  @property
  def num_prefix_tokens(self) -> int:
    """The cache slots the image takes before the prompt (none when it
    replaces the prompt's placeholders)."""
    return self.num_image_tokens if self.image_token_id < 0 else 0

  def setup(self):
    if self.vision not in VISION_TOWERS:
      raise ValueError(f"vision tower {self.vision!r}: one of "
                       f"{VISION_TOWERS}")
    sizes = (self.image_size, self.patch_size, self.vision_width,
             self.vision_layers, self.vision_heads, self.vision_mlp_dim)
    if self.vision == "clip":
      self.vision_tower = clip_vision.ClipVision(
          *sizes, self.vision_act, self.vision_eps, self.dtype)
    else:
      self.vision_tower = blip.BlipVision(*sizes, self.vision_eps,
                                          self.dtype)
    self.multi_modal_projector = Projector(self.cfg.hidden_size, self.dtype)
    self.language_model = llama.LlamaForCausalLM(self.cfg, self.dtype,
                                                 self.remat)

  def encode_image(self, images: jax.Array) -> jax.Array:
    """The vision tower's tokens `(B, 1 + patches, vision_width)` the
    projector reads from."""
    if self.vision == "clip":
      return self.vision_tower(images)[0][self.feature_layer]
    return self.vision_tower(images)

  def __call__(self, tokens, mask=None, cache=None, images=None,
               image_mask=None, *, hidden=False, train: bool = False):
    del train  # no dropout
    if mask is None:
      mask = jnp.ones(tokens.shape, bool)
    prefix = splice = None
    if images is not None:
      b = tokens.shape[0]
      features = self.encode_image(images)
      vectors = self.multi_modal_projector(
          features if self.keep_cls else features[:, 1:])
      present = (jnp.ones((b,), bool) if image_mask is None
                 else image_mask.astype(bool))
      if self.image_token_id >= 0:
        splice = (vectors, (tokens == self.image_token_id)
                  & mask.astype(bool) & present[:, None])
      else:
        prefix = (vectors, jnp.broadcast_to(present[:, None],
                                            vectors.shape[:2]))
    return self.language_model(tokens, mask, cache, hidden=hidden,
                               prefix=prefix, splice=splice)


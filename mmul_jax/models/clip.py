"""CLIP-style dual encoder with an ALBEF-style fusion encoder on top.

One Linen module, used functionally: `model.apply(params, ...)`. The three
representations the unlearning losses need come from three methods:

* `encode_image` / `encode_text`: unimodal, L2-normalised embeddings (and
  token features);
* `fuse`: the multimodal [CLS] of the fusion encoder and its matching logits;
* `__call__`: all of them for a batch of aligned (image, text) pairs;
* `classify`: for classification tasks (`num_classes > 0`), the fusion
  encoder over the tokens of `num_images` images (NLVR2: 2, SNLI-VE: 1) and
  a class head on its [CLS].
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.models import fusion
from mmul_jax.models import layers
from mmul_jax.models import text_transformer
from mmul_jax.models import vit


def l2_normalize(x: jax.Array, eps: float = 1e-6) -> jax.Array:
  return x / jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + eps)


def text_fusion_and_scale(m: nn.Module):
  """The text tower, fusion encoder and contrastive temperature that every
  model builds from its attributes (call in `setup`)."""
  return (text_transformer.TextTransformer(
              m.vocab_size, m.context_length, m.text_width, m.text_layers,
              m.text_heads, m.embed_dim, m.eot_id, m.mlp_ratio,
              m.activation, m.dropout_rate, m.dtype, m.layer_norm_eps),
          fusion.FusionEncoder(
              m.fusion_width, m.fusion_layers, m.fusion_heads, m.mlp_ratio,
              m.dropout_rate, m.dtype, m.layer_norm_eps),
          m.param("logit_scale",
                  nn.initializers.constant(m.logit_scale_init), ()))


def text_outputs(tower, text: jax.Array, *, train: bool) -> dict:
  """A text tower's normalised embedding, tokens and mask."""
  embed, tokens, mask = tower(text, train=train)
  return {"text_embed": l2_normalize(embed.astype(jnp.float32)),
          "text_tokens": tokens, "text_mask": mask}


def fusion_outputs(fusion_encoder, image_tokens, text_tokens, text_mask,
                   image_mask, *, train: bool) -> dict:
  """The fusion [CLS] and matching logits (float32)."""
  cls, itm_logits = fusion_encoder(text_tokens, text_mask, image_tokens,
                                   image_mask, train=train)
  return {"fusion_cls": cls.astype(jnp.float32),
          "itm_logits": itm_logits.astype(jnp.float32)}


def all_outputs(model, images, text, *, train: bool) -> dict:
  """Every representation of aligned pairs: `model.encode_image`,
  `encode_text`, `fuse` and the logit scale."""
  out = model.encode_image(images, train=train)
  out.update(model.encode_text(text, train=train))
  out.update(model.fuse(out["image_tokens"], out["text_tokens"],
                        out["text_mask"], out["image_mask"], train=train))
  out["logit_scale"] = model.logit_scale
  return out


class DualEncoder(nn.Module):
  """Image tower `img`, text tower `txt`, fusion encoder `fusion`.

  Attributes mirror the `model` block of a config (see `models.presets`).
  """

  embed_dim: int
  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  vocab_size: int
  context_length: int
  text_width: int
  text_layers: int
  text_heads: int
  eot_id: int
  fusion_width: int
  fusion_layers: int
  fusion_heads: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  logit_scale_init: float = float(np.log(1 / 0.07))
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS
  num_classes: int = 0  # > 0: a classification head (`classify`)
  num_images: int = 1  # images per example of a classification task

  def setup(self):
    self.img = vit.VisionTransformer(
        self.image_size, self.patch_size, self.vision_width,
        self.vision_layers, self.vision_heads, self.embed_dim,
        self.mlp_ratio, self.activation, self.dropout_rate, self.dtype,
        self.layer_norm_eps)
    self.txt, self.fusion, self.logit_scale = text_fusion_and_scale(self)
    if self.num_classes:
      self.cls_head = nn.Dense(self.num_classes, dtype=self.dtype)
      # Tells the fusion encoder which image a token came from.
      self.image_index = self.param(
          "image_index", nn.initializers.normal(0.02),
          (self.num_images, self.vision_width))

  def encode_image(self, images: jax.Array, *,
                   train: bool = False) -> dict[str, jax.Array]:
    """`images`: float `(B, H, W, 3)`, already normalised. Every patch
    token is valid (`image_mask` all true; graphs have padding nodes)."""
    embed, tokens = self.img(images, train=train)
    return {"image_embed": l2_normalize(embed.astype(jnp.float32)),
            "image_tokens": tokens,
            "image_mask": jnp.ones(tokens.shape[:2], bool)}

  def encode_text(self, text: jax.Array, *,
                  train: bool = False) -> dict[str, jax.Array]:
    """`text`: int token ids `(B, L)` with an end-of-text token."""
    return text_outputs(self.txt, text, train=train)

  def fuse(self, image_tokens: jax.Array, text_tokens: jax.Array,
           text_mask: jax.Array, image_mask: jax.Array | None = None, *,
           train: bool = False) -> dict[str, jax.Array]:
    return fusion_outputs(self.fusion, image_tokens, text_tokens, text_mask,
                          image_mask, train=train)

  def __call__(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    """Every representation for aligned pairs `(images[i], text[i])`."""
    return all_outputs(self, images, text, train=train)

  def classify(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    """`images`: `(B, K, H, W, 3)` with K = `num_images`; `text`: `(B, L)`.

    The text cross-attends to the tokens of all K images (each marked with
    its image's index embedding); the class head reads the fusion [CLS].
    Returns `class_logits` `(B, C)`, `fusion_cls`, the per-image
    `image_tokens` `(B, K, T, W)` and `image_embed` `(B, K, D)`, and the
    text's `text_embed`.
    """
    if not self.num_classes:
      raise ValueError("this model has no class head (num_classes=0)")
    b, k = images.shape[:2]
    if k != self.num_images:
      raise ValueError(f"expected {self.num_images} image(s) per example, "
                       f"got images of shape {images.shape}")
    img = self.encode_image(images.reshape((b * k,) + images.shape[2:]),
                            train=train)
    tokens = img["image_tokens"].reshape(b, k, -1, self.vision_width)
    context = tokens + self.image_index[None, :, None, :].astype(tokens.dtype)
    txt = self.encode_text(text, train=train)
    fused = self.fuse(context.reshape(b, -1, self.vision_width),
                      txt["text_tokens"], txt["text_mask"], train=train)
    logits = self.cls_head(fused["fusion_cls"].astype(self.dtype))
    return {"class_logits": logits.astype(jnp.float32),
            "fusion_cls": fused["fusion_cls"], "image_tokens": tokens,
            "image_embed": img["image_embed"].reshape(b, k, -1),
            "text_embed": txt["text_embed"]}

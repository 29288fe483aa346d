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
    self.txt = text_transformer.TextTransformer(
        self.vocab_size, self.context_length, self.text_width,
        self.text_layers, self.text_heads, self.embed_dim, self.eot_id,
        self.mlp_ratio, self.activation, self.dropout_rate, self.dtype,
        self.layer_norm_eps)
    self.fusion = fusion.FusionEncoder(
        self.fusion_width, self.fusion_layers, self.fusion_heads,
        self.mlp_ratio, self.dropout_rate, self.dtype, self.layer_norm_eps)
    self.logit_scale = self.param(
        "logit_scale", nn.initializers.constant(self.logit_scale_init), ())
    if self.num_classes:
      self.cls_head = nn.Dense(self.num_classes, dtype=self.dtype)
      # Tells the fusion encoder which image a token came from.
      self.image_index = self.param(
          "image_index", nn.initializers.normal(0.02),
          (self.num_images, self.vision_width))

  def encode_image(self, images: jax.Array, *,
                   train: bool = False) -> dict[str, jax.Array]:
    """`images`: float `(B, H, W, 3)`, already normalised."""
    embed, tokens = self.img(images, train=train)
    return {"image_embed": l2_normalize(embed.astype(jnp.float32)),
            "image_tokens": tokens}

  def encode_text(self, text: jax.Array, *,
                  train: bool = False) -> dict[str, jax.Array]:
    """`text`: int token ids `(B, L)` with an end-of-text token."""
    embed, tokens, mask = self.txt(text, train=train)
    return {"text_embed": l2_normalize(embed.astype(jnp.float32)),
            "text_tokens": tokens, "text_mask": mask}

  def fuse(self, image_tokens: jax.Array, text_tokens: jax.Array,
           text_mask: jax.Array, *,
           train: bool = False) -> dict[str, jax.Array]:
    cls, itm_logits = self.fusion(text_tokens, text_mask, image_tokens,
                                  train=train)
    return {"fusion_cls": cls.astype(jnp.float32),
            "itm_logits": itm_logits.astype(jnp.float32)}

  def __call__(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    """Every representation for aligned pairs `(images[i], text[i])`."""
    out = self.encode_image(images, train=train)
    out.update(self.encode_text(text, train=train))
    out.update(self.fuse(out["image_tokens"], out["text_tokens"],
                         out["text_mask"], train=train))
    out["logit_scale"] = self.logit_scale
    return out

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

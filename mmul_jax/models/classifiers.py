"""Unimodal classifiers (MU-Bench's image, text, audio and video tasks): one
tower of the dual encoder, or a tower built like it, with a class head.

Each module's fields are the `model` config keys its tower reads, so a run's
model fingerprint holds only those. Every classifier has one method the
tasks call, `classify(inputs, train=...)`, which returns the class logits
and the pooled feature they are read from (`features`, float32), the
representation a leakage audit or a retention term can compare.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import layers
from mmul_jax.models import text_transformer
from mmul_jax.models import vit


def _head_outputs(head: nn.Module, features: jax.Array) -> dict:
  features = features.astype(jnp.float32)
  return {"class_logits": head(features).astype(jnp.float32),
          "features": features}


class ImageClassifier(nn.Module):
  """The ViT image tower (CLIP's layout) and a class head on its projected
  [CLS]. `classify` reads normalised float images `(B, H, W, 3)`."""

  num_classes: int
  embed_dim: int
  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS

  def setup(self):
    self.img = vit.VisionTransformer(
        self.image_size, self.patch_size, self.vision_width,
        self.vision_layers, self.vision_heads, self.embed_dim,
        self.mlp_ratio, self.activation, self.dropout_rate, self.dtype,
        self.layer_norm_eps)
    self.cls_head = nn.Dense(self.num_classes, name="cls_head")

  def classify(self, images: jax.Array, *, train: bool = False) -> dict:
    embed, _ = self.img(images, train=train)
    return _head_outputs(self.cls_head, embed)

  def __call__(self, images: jax.Array, *, train: bool = False) -> dict:
    return self.classify(images, train=train)


class TextClassifier(nn.Module):
  """The causal text tower (CLIP's layout) and a class head on its
  projected end-of-text feature. `classify` reads token ids `(B, L)`;
  relation extraction marks the entities with tokens of the text."""

  num_classes: int
  embed_dim: int
  vocab_size: int
  context_length: int
  text_width: int
  text_layers: int
  text_heads: int
  eot_id: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS

  def setup(self):
    self.txt = text_transformer.TextTransformer(
        self.vocab_size, self.context_length, self.text_width,
        self.text_layers, self.text_heads, self.embed_dim, self.eot_id,
        self.mlp_ratio, self.activation, self.dropout_rate, self.dtype,
        self.layer_norm_eps)
    self.cls_head = nn.Dense(self.num_classes, name="cls_head")

  def classify(self, text: jax.Array, *, train: bool = False) -> dict:
    embed, _, _ = self.txt(text, train=train)
    return _head_outputs(self.cls_head, embed)

  def __call__(self, text: jax.Array, *, train: bool = False) -> dict:
    return self.classify(text, train=train)


CLASSIFIERS: dict[str, type[nn.Module]] = {
    "image": ImageClassifier, "text": TextClassifier}

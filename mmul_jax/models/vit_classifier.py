"""Hugging Face's ViT image classifier (`ViTForImageClassification`:
`google/vit-base-patch16-224-in21k` fine-tuned on CIFAR, MU-Bench's ViT
backbone) in Flax under its module names, so a checkpoint imports by name
(`pretrained.vit_weights`): patch, [CLS] and position embeddings, pre-LN
layers (`layernorm_before`, `attention/attention/{query,key,value}`,
`attention/output/dense`, `layernorm_after`, `intermediate/dense`,
`output/dense`), the final `layernorm` and `classifier` on [CLS].

`classify(images)` speaks the unimodal classifiers' interface: the class
logits and `features`, the final [CLS] the classifier reads. Images are
`(B, H, W, 3)` floats already normalised (ViT's mean and std 0.5), at the
model's `image_size`; a checkpoint made for another size gets its
position embeddings resized on import (as transformers'
`interpolate_pos_encoding`). No dropout.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import bert
from mmul_jax.models import layers

_gelu = layers.ACTIVATIONS["gelu_exact"]


class _Embeddings(nn.Module):
  image_size: int
  patch_size: int
  width: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images):
    if images.shape[1:3] != (self.image_size, self.image_size):
      raise ValueError(f"the ViT reads {self.image_size}x{self.image_size} "
                       f"images, got shape {images.shape}")
    x = layers.PatchConv(self.width, self.patch_size, "projection",
                         self.dtype, name="patch_embeddings")(images)
    init = nn.initializers.truncated_normal(0.02)
    cls = self.param("cls_token", init, (1, 1, self.width))
    pos = self.param("position_embeddings", init,
                     (1, x.shape[1] + 1, self.width))
    x = jnp.concatenate([jnp.broadcast_to(cls.astype(self.dtype),
                                          (x.shape[0], 1, self.width)), x], 1)
    return x + pos.astype(self.dtype)


class _Attention(nn.Module):
  """`attention`: `attention/{query,key,value}` and `output/dense`."""

  num_heads: int
  dtype: Any = jnp.float32
  key_bias: bool = True
  qv_bias: bool = True

  @nn.compact
  def __call__(self, x):
    h = bert.BertSelfAttention(self.num_heads, self.dtype, self.key_bias,
                               self.qv_bias, name="attention")(x, x, None)
    return _Dense(self.dtype, name="output")(h, x.shape[-1])


class _Dense(nn.Module):
  """A naming level: `<name>/dense`."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, features):
    return nn.Dense(features, dtype=self.dtype, name="dense")(x)


class _Layer(nn.Module):
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32
  key_bias: bool = True
  qv_bias: bool = True

  @nn.compact
  def __call__(self, x):
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    x = x + _Attention(self.num_heads, self.dtype, self.key_bias,
                       self.qv_bias, name="attention")(
                           norm("layernorm_before")(x))
    h = _gelu(_Dense(self.dtype, name="intermediate")(
        norm("layernorm_after")(x), self.mlp_dim))
    return x + _Dense(self.dtype, name="output")(h, x.shape[-1])


class Encoder(nn.Module):
  """`encoder/layer_<i>`: the pre-LN layers (shared with VideoMAE, whose
  attention has no key bias)."""

  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32
  key_bias: bool = True
  qv_bias: bool = True

  def setup(self):
    self.layer = [_Layer(self.num_heads, self.mlp_dim, self.eps, self.dtype,
                         self.key_bias, self.qv_bias)
                  for _ in range(self.num_layers)]

  def __call__(self, x):
    for layer in self.layer:
      x = layer(x)
    return x


class _Vit(nn.Module):
  image_size: int
  patch_size: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images):
    x = _Embeddings(self.image_size, self.patch_size, self.width, self.dtype,
                    name="embeddings")(images)
    x = Encoder(self.num_layers, self.num_heads, self.mlp_dim, self.eps,
                 self.dtype, name="encoder")(x)
    return nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                        name="layernorm")(x)


class VitClassifier(nn.Module):
  """`ViTForImageClassification` with the unimodal classifiers'
  `classify`."""

  num_classes: int
  image_size: int
  patch_size: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-12
  dtype: Any = jnp.float32

  def setup(self):
    self.vit = _Vit(self.image_size, self.patch_size, self.width,
                    self.num_layers, self.num_heads, self.mlp_dim, self.eps,
                    self.dtype)
    self.classifier = nn.Dense(self.num_classes, dtype=self.dtype)

  def classify(self, images: jax.Array, *, train: bool = False) -> dict:
    del train  # no dropout
    features = self.vit(images)[:, 0]
    return {"class_logits": self.classifier(features).astype(jnp.float32),
            "features": features.astype(jnp.float32)}

  def __call__(self, images: jax.Array, *, train: bool = False) -> dict:
    return self.classify(images, train=train)

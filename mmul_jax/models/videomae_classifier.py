"""Hugging Face's VideoMAE video classifier
(`VideoMAEForVideoClassification`: MU-Bench's UCF101 backbone) in Flax
under its module names, so a checkpoint imports by name
(`pretrained.videomae_weights`): `embeddings/patch_embeddings/projection`
(a 3-D convolution over `tubelet_size` x `patch_size`² tubelets, 2x16x16
in the released models), the fixed sinusoidal position table (a constant,
as in the reference, not a parameter), ViT's pre-LN layers
(`vit_classifier.Encoder`) whose attention has no key bias and query and
value biases with `qv_bias`, then either the mean over tokens and
`fc_norm` (`use_mean_pooling`, the released models) or the final
`layernorm` and the first token, and `classifier`.

`classify(clips)` speaks the unimodal classifiers' interface: the class
logits and `features`, what the classifier reads. Clips are
`(B, T, H, W, 3)` floats already normalised (ImageNet's mean and std for
the MCG-NJU checkpoints) at the model's `image_size`, with a multiple of
`tubelet_size` frames (16 in the released models; the fixed position
table follows the token count). No dropout.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.models import vit_classifier


def sinusoid_table(num_positions: int, width: int) -> np.ndarray:
  """`(num_positions, width)`: sin on even, cos on odd dimensions, the
  angle `pos / 10000^(2 (i // 2) / width)` (VideoMAE's table, float64
  then float32 as the reference)."""
  pos = np.arange(num_positions, dtype=np.float64)[:, None]
  i = np.arange(width)
  table = pos / np.power(10000.0, 2 * (i // 2) / width)
  table[:, 0::2] = np.sin(table[:, 0::2])
  table[:, 1::2] = np.cos(table[:, 1::2])
  return table.astype(np.float32)


class _PatchEmbeddings(nn.Module):
  width: int
  patch_size: int
  tubelet_size: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, clips):
    t, p = self.tubelet_size, self.patch_size
    x = nn.Conv(self.width, (t, p, p), strides=(t, p, p), padding="VALID",
                dtype=self.dtype, name="projection")(clips.astype(self.dtype))
    return x.reshape(x.shape[0], -1, self.width)  # frames, rows, columns


class _Embeddings(nn.Module):
  image_size: int
  width: int
  patch_size: int
  tubelet_size: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, clips):
    if (clips.shape[2:4] != (self.image_size, self.image_size)
        or clips.shape[1] % self.tubelet_size):
      raise ValueError(
          f"VideoMAE reads frames of {self.image_size}x{self.image_size} in "
          f"tubelets of {self.tubelet_size}, got clips of shape "
          f"{clips.shape}")
    x = _PatchEmbeddings(self.width, self.patch_size, self.tubelet_size,
                         self.dtype, name="patch_embeddings")(clips)
    return x + jnp.asarray(sinusoid_table(x.shape[1], self.width),
                           self.dtype)


class _VideoMae(nn.Module):
  """`VideoMAEModel` without masking: the encoder's tokens (after the
  final `layernorm` unless mean pooling)."""

  image_size: int
  patch_size: int
  tubelet_size: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  qv_bias: bool
  mean_pooling: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, clips):
    x = _Embeddings(self.image_size, self.width,
                    self.patch_size, self.tubelet_size, self.dtype,
                    name="embeddings")(clips)
    x = vit_classifier.Encoder(self.num_layers, self.num_heads,
                               self.mlp_dim, self.eps, self.dtype,
                               key_bias=False, qv_bias=self.qv_bias,
                               name="encoder")(x)
    if not self.mean_pooling:
      x = nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                       name="layernorm")(x)
    return x


class VideomaeClassifier(nn.Module):
  """`VideoMAEForVideoClassification` with the unimodal classifiers'
  `classify`."""

  num_classes: int
  image_size: int
  patch_size: int
  tubelet_size: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-12
  qv_bias: bool = True
  mean_pooling: bool = True
  dtype: Any = jnp.float32

  def setup(self):
    self.videomae = _VideoMae(
        self.image_size, self.patch_size, self.tubelet_size,
        self.width, self.num_layers, self.num_heads, self.mlp_dim, self.eps,
        self.qv_bias, self.mean_pooling, self.dtype)
    if self.mean_pooling:  # torch's default LayerNorm eps, not the config's
      self.fc_norm = nn.LayerNorm(epsilon=1e-5, dtype=self.dtype)
    self.classifier = nn.Dense(self.num_classes, dtype=self.dtype)

  def classify(self, clips: jax.Array, *, train: bool = False) -> dict:
    del train  # no dropout
    tokens = self.videomae(clips)
    features = (self.fc_norm(jnp.mean(tokens, axis=1)) if self.mean_pooling
                else tokens[:, 0])
    return {"class_logits": self.classifier(features).astype(jnp.float32),
            "features": features.astype(jnp.float32)}

  def __call__(self, clips: jax.Array, *, train: bool = False) -> dict:
    return self.classify(clips, train=train)

"""Hugging Face's ResNet image classifier (`ResNetForImageClassification`:
`microsoft/resnet-18`, `-34`, `-50`, MU-Bench's ResNet backbones) in Flax
under its module names, so a checkpoint imports by name
(`pretrained.resnet_weights`): the stem (`embedder/embedder`: a 7x7
stride-2 convolution, batch norm, ReLU; then a 3x3 stride-2 max pool),
`encoder/stages_<i>/layers_<j>` of basic (two 3x3 convolutions) or
bottleneck (1x1, 3x3, 1x1 at a quarter of the width) blocks with a
projection `shortcut` where the shape changes, global average pooling,
and `classifier_1` (Hugging Face's `classifier.1`).

Batch normalisation runs on the checkpoint's running statistics in
training and inference alike (`FrozenBatchNorm`): they are the
`batch_stats` collection beside `params`, which no optimiser moves
(`optim.trainable`) and no gradient reaches, so unlearning and fine-tuning
change the weights only, as a frozen-statistics fine-tune of a pretrained
ResNet does (detectron's `FrozenBatchNorm2d`). A ResNet started from a
random initialisation keeps the initial statistics (mean 0, variance 1):
train it from a pretrained checkpoint.

`classify(images)` speaks the unimodal classifiers' interface: the class
logits and `features`, the pooled vector the classifier reads. Images are
`(B, H, W, 3)` floats already normalised (ImageNet's mean and std for the
`microsoft/resnet-*` checkpoints), at any size.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# The running statistics' collection (no optimiser moves it).
BATCH_STATS = "batch_stats"


class FrozenBatchNorm(nn.Module):
  """torch's `BatchNorm2d` in inference mode: `scale` and `bias` are
  parameters, `running_mean` and `running_var` (`batch_stats`) fixed."""

  eps: float = 1e-5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones, (c,))
    bias = self.param("bias", nn.initializers.zeros, (c,))
    mean = self.variable(BATCH_STATS, "running_mean", jnp.zeros, (c,))
    var = self.variable(BATCH_STATS, "running_var", jnp.ones, (c,))
    mean, var = jax.lax.stop_gradient((mean.value, var.value))
    mul = scale * jax.lax.rsqrt(var + self.eps)
    return (x * mul.astype(self.dtype)
            + (bias - mean * mul).astype(self.dtype))


class _ConvLayer(nn.Module):
  """`convolution` (no bias, padding k // 2), `normalization`, ReLU."""

  features: int
  kernel: int = 3
  stride: int = 1
  relu: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    p = self.kernel // 2
    x = nn.Conv(self.features, (self.kernel, self.kernel),
                strides=self.stride, padding=((p, p), (p, p)),
                use_bias=False, dtype=self.dtype,
                kernel_init=nn.initializers.variance_scaling(
                    2.0, "fan_out", "normal"),
                name="convolution")(x)
    x = FrozenBatchNorm(dtype=self.dtype, name="normalization")(x)
    return nn.relu(x) if self.relu else x


class _Block(nn.Module):
  """`ResNetBasicLayer` or `ResNetBottleNeckLayer`: `layer_<k>` and, where
  the width or stride changes, the 1x1 `shortcut`."""

  features: int
  stride: int
  bottleneck: bool
  downsample_in_bottleneck: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    residual = x
    if x.shape[-1] != self.features or self.stride != 1:
      residual = _ConvLayer(self.features, 1, self.stride, relu=False,
                            dtype=self.dtype, name="shortcut")(x)
    if self.bottleneck:
      inner, first = self.features // 4, self.downsample_in_bottleneck
      x = _ConvLayer(inner, 1, self.stride if first else 1,
                     dtype=self.dtype, name="layer_0")(x)
      x = _ConvLayer(inner, 3, 1 if first else self.stride,
                     dtype=self.dtype, name="layer_1")(x)
      x = _ConvLayer(self.features, 1, relu=False, dtype=self.dtype,
                     name="layer_2")(x)
    else:
      x = _ConvLayer(self.features, 3, self.stride, dtype=self.dtype,
                     name="layer_0")(x)
      x = _ConvLayer(self.features, 3, relu=False, dtype=self.dtype,
                     name="layer_1")(x)
    return nn.relu(x + residual)


class _Stem(nn.Module):
  width: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = _ConvLayer(self.width, 7, 2, dtype=self.dtype, name="embedder")(x)
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))


class _Stage(nn.Module):
  """`layers_<j>`: the first block changes width and stride."""

  width: int
  depth: int
  stride: int
  bottleneck: bool
  downsample_in_bottleneck: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    for j in range(self.depth):
      x = _Block(self.width, self.stride if j == 0 else 1, self.bottleneck,
                 self.downsample_in_bottleneck, self.dtype,
                 name=f"layers_{j}")(x)
    return x


class _Encoder(nn.Module):
  """`stages_<i>`: the first keeps the resolution unless
  `downsample_in_first_stage`, the others halve it."""

  widths: Sequence[int]
  depths: Sequence[int]
  bottleneck: bool
  downsample_in_first_stage: bool
  downsample_in_bottleneck: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    for i, (width, depth) in enumerate(zip(self.widths, self.depths)):
      stride = 2 if i or self.downsample_in_first_stage else 1
      x = _Stage(width, depth, stride, self.bottleneck,
                 self.downsample_in_bottleneck, self.dtype,
                 name=f"stages_{i}")(x)
    return x


class _ResNet(nn.Module):
  """`ResNetModel`: stem, stages, global average pool."""

  stem_width: int
  widths: Sequence[int]
  depths: Sequence[int]
  bottleneck: bool
  downsample_in_first_stage: bool = False
  downsample_in_bottleneck: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images):
    x = _Stem(self.stem_width, self.dtype, name="embedder")(
        images.astype(self.dtype))
    x = _Encoder(self.widths, self.depths, self.bottleneck,
                 self.downsample_in_first_stage,
                 self.downsample_in_bottleneck, self.dtype,
                 name="encoder")(x)
    return jnp.mean(x, axis=(1, 2))


class ResnetClassifier(nn.Module):
  """`ResNetForImageClassification` with the unimodal classifiers'
  `classify`."""

  num_classes: int
  stem_width: int
  widths: Sequence[int]
  depths: Sequence[int]
  bottleneck: bool
  downsample_in_first_stage: bool = False
  downsample_in_bottleneck: bool = False
  dtype: Any = jnp.float32

  def setup(self):
    self.resnet = _ResNet(self.stem_width, tuple(self.widths),
                          tuple(self.depths), self.bottleneck,
                          self.downsample_in_first_stage,
                          self.downsample_in_bottleneck, self.dtype)
    self.classifier_1 = nn.Dense(self.num_classes, dtype=self.dtype)

  def classify(self, images: jax.Array, *, train: bool = False) -> dict:
    del train  # frozen statistics, no dropout: one mode
    features = self.resnet(images)
    return {"class_logits": self.classifier_1(features).astype(jnp.float32),
            "features": features.astype(jnp.float32)}

  def __call__(self, images: jax.Array, *, train: bool = False) -> dict:
    return self.classify(images, train=train)

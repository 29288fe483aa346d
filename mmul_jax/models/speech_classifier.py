"""wav2vec 2.0 and HuBERT keyword-spotting classifiers
(`Wav2Vec2ForSequenceClassification`, `HubertForSequenceClassification`:
MU-Bench's Speech Commands backbones) in Flax under Hugging Face's module
names, so a checkpoint imports by name (`pretrained.speech_weights`).
The two share one layout; the root is `wav2vec2` or `hubert`:

* `feature_extractor/conv_layers_<i>`: 1-D convolutions over the raw
  waveform with exact GELU, the first followed by a per-channel group norm
  (`feat_extract_norm = "group"`, the base models) or each by a LayerNorm
  over channels (`"layer"`, the large ones);
* `feature_projection`: LayerNorm (HuBERT: if `feat_proj_layer_norm`) and
  a Linear to the model width;
* `encoder`: a grouped positional convolution (`pos_conv_embed/conv`,
  weight-normalised along its kernel axis as `weight_g`, `weight_v`, the
  last frame cut for even kernels) added to the frames, then post-LN
  layers after a LayerNorm, or pre-LN layers and a final LayerNorm
  (`do_stable_layer_norm`);
* `projector` on every frame, the mean over frames, `classifier`.

The waveform `(B, N)` in [-1, 1] at 16 kHz is first normalised per clip to
zero mean and unit variance when the checkpoint's feature extractor does
(`normalize`, its `do_normalize`), over the whole clip (Hugging Face's
over the unpadded part: the same for full-length clips). No dropout,
SpecAugment masking or layer drop (training-time regularisers of the
reference; `masked_spec_embed` is not imported).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import layers

_gelu = layers.ACTIVATIONS["gelu_exact"]
# torch's defaults for the feature extractor's norms.
_CONV_NORM_EPS = 1e-5


class _ChannelNorm(nn.Module):
  """`GroupNorm(num_groups=channels)`: each channel over time."""

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones, (c,))
    bias = self.param("bias", nn.initializers.zeros, (c,))
    x32 = x.astype(jnp.float32)
    mean = jnp.mean(x32, axis=1, keepdims=True)
    var = jnp.var(x32, axis=1, keepdims=True)
    y = (x32 - mean) * jax.lax.rsqrt(var + _CONV_NORM_EPS) * scale + bias
    return y.astype(x.dtype)


class _ConvLayer(nn.Module):
  features: int
  kernel: int
  stride: int
  norm: str | None  # "group", "layer" or None
  bias: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(self.features, (self.kernel,), strides=self.stride,
                padding="VALID", use_bias=self.bias, dtype=self.dtype,
                name="conv")(x)
    if self.norm == "group":
      x = _ChannelNorm(name="layer_norm")(x)
    elif self.norm == "layer":
      x = nn.LayerNorm(epsilon=_CONV_NORM_EPS, dtype=self.dtype,
                       name="layer_norm")(x)
    return _gelu(x)


class _FeatureEncoder(nn.Module):
  conv_dim: Sequence[int]
  conv_kernel: Sequence[int]
  conv_stride: Sequence[int]
  norm: str
  bias: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, waveform):
    x = waveform[..., None].astype(self.dtype)
    for i, (dim, k, s) in enumerate(zip(self.conv_dim, self.conv_kernel,
                                        self.conv_stride)):
      norm = self.norm if self.norm == "layer" or i == 0 else None
      x = _ConvLayer(dim, k, s, norm, self.bias, self.dtype,
                     name=f"conv_layers_{i}")(x)
    return x


class _PositionalConv(nn.Module):
  """The grouped convolution with its weight norm over the kernel axis
  (torch's `weight_norm(dim=2)`: `w = g v / |v|`, the norm of each kernel
  position's slice)."""

  kernel: int
  groups: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    v = self.param("weight_v", nn.initializers.normal(0.02),
                   (c, c // self.groups, self.kernel))
    g = self.param("weight_g", lambda _, s: jnp.sqrt(jnp.sum(
        jnp.square(v), axis=(0, 1), keepdims=True)), (1, 1, self.kernel))
    bias = self.param("bias", nn.initializers.zeros, (c,))
    w = g * v * jax.lax.rsqrt(jnp.sum(jnp.square(v), axis=(0, 1),
                                      keepdims=True))
    pad = self.kernel // 2
    y = jax.lax.conv_general_dilated(
        x.astype(self.dtype), w.astype(self.dtype), (1,), [(pad, pad)],
        dimension_numbers=("NWC", "OIW", "NWC"),
        feature_group_count=self.groups)
    if self.kernel % 2 == 0:
      y = y[:, :-1]
    return _gelu(y + bias.astype(self.dtype))


class _FeedForward(nn.Module):
  mlp_dim: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    h = _gelu(nn.Dense(self.mlp_dim, dtype=self.dtype,
                       name="intermediate_dense")(x))
    return nn.Dense(x.shape[-1], dtype=self.dtype, name="output_dense")(h)


class _Layer(nn.Module):
  num_heads: int
  mlp_dim: int
  eps: float
  pre_ln: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    attention = layers.ProjAttention(self.num_heads, self.dtype,
                                     name="attention")
    mlp = _FeedForward(self.mlp_dim, self.dtype, name="feed_forward")
    if self.pre_ln:  # `Wav2Vec2EncoderLayerStableLayerNorm`
      x = x + attention(norm("layer_norm")(x))
      return x + mlp(norm("final_layer_norm")(x))
    x = norm("layer_norm")(x + attention(x))
    return norm("final_layer_norm")(x + mlp(x))


class _Encoder(nn.Module):
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  pos_kernel: int
  pos_groups: int
  stable_layer_norm: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    x = x + _PosConvEmbed(self.pos_kernel, self.pos_groups, self.dtype,
                          name="pos_conv_embed")(x)
    norm = nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                        name="layer_norm")
    if not self.stable_layer_norm:
      x = norm(x)
    for i in range(self.num_layers):
      x = _Layer(self.num_heads, self.mlp_dim, self.eps,
                 self.stable_layer_norm, self.dtype, name=f"layers_{i}")(x)
    return norm(x) if self.stable_layer_norm else x


class _PosConvEmbed(nn.Module):
  """A naming level: `pos_conv_embed/conv`."""

  kernel: int
  groups: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    return _PositionalConv(self.kernel, self.groups, self.dtype,
                           name="conv")(x)


class _FeatureProjection(nn.Module):
  width: int
  eps: float
  layer_norm: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    if self.layer_norm:
      x = nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                       name="layer_norm")(x)
    return nn.Dense(self.width, dtype=self.dtype, name="projection")(x)


class _SpeechModel(nn.Module):
  """`Wav2Vec2Model` / `HubertModel` without masking: frames `(B, T, W)`."""

  conv_dim: Sequence[int]
  conv_kernel: Sequence[int]
  conv_stride: Sequence[int]
  feat_extract_norm: str
  conv_bias: bool
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  pos_kernel: int
  pos_groups: int
  stable_layer_norm: bool
  projection_layer_norm: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, waveform):
    x = _FeatureEncoder(self.conv_dim, self.conv_kernel, self.conv_stride,
                        self.feat_extract_norm, self.conv_bias, self.dtype,
                        name="feature_extractor")(waveform)
    x = _FeatureProjection(self.width, self.eps, self.projection_layer_norm,
                           self.dtype, name="feature_projection")(x)
    return _Encoder(self.num_layers, self.num_heads, self.mlp_dim, self.eps,
                    self.pos_kernel, self.pos_groups, self.stable_layer_norm,
                    self.dtype, name="encoder")(x)


class SpeechClassifier(nn.Module):
  """`Wav2Vec2ForSequenceClassification` (`root = "wav2vec2"`) or
  `HubertForSequenceClassification` (`"hubert"`) with the unimodal
  classifiers' `classify`: the class logits and `features`, the mean of
  the projected frames the classifier reads."""

  num_classes: int
  root: str
  conv_dim: Sequence[int]
  conv_kernel: Sequence[int]
  conv_stride: Sequence[int]
  feat_extract_norm: str
  conv_bias: bool
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  pos_kernel: int
  pos_groups: int
  stable_layer_norm: bool
  projection_layer_norm: bool
  projector_size: int
  normalize: bool
  eps: float = 1e-5
  dtype: Any = jnp.float32

  def setup(self):
    model = _SpeechModel(
        tuple(self.conv_dim), tuple(self.conv_kernel),
        tuple(self.conv_stride), self.feat_extract_norm, self.conv_bias,
        self.width, self.num_layers, self.num_heads, self.mlp_dim, self.eps,
        self.pos_kernel, self.pos_groups, self.stable_layer_norm,
        self.projection_layer_norm, self.dtype, name=self.root)
    self.speech = model
    self.projector = nn.Dense(self.projector_size, dtype=self.dtype)
    self.classifier = nn.Dense(self.num_classes, dtype=self.dtype)

  def classify(self, waveform: jax.Array, *, train: bool = False) -> dict:
    del train  # no dropout
    x = waveform.astype(jnp.float32)
    if self.normalize:  # Wav2Vec2FeatureExtractor's zero-mean unit-var
      x = (x - jnp.mean(x, -1, keepdims=True)) * jax.lax.rsqrt(
          jnp.var(x, -1, keepdims=True) + 1e-7)
    features = jnp.mean(self.projector(self.speech(x)), axis=1)
    return {"class_logits": self.classifier(features).astype(jnp.float32),
            "features": features.astype(jnp.float32)}

  def __call__(self, waveform: jax.Array, *, train: bool = False) -> dict:
    return self.classify(waveform, train=train)

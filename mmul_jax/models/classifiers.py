"""Unimodal classifiers (MU-Bench's image, text, audio and video tasks): one
tower of the dual encoder (the ViT also reads spectrograms and, with
tubelets, clips) with a class head.

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

from mmul_jax.models import audio
from mmul_jax.models import layers
from mmul_jax.models import text_transformer
from mmul_jax.models import vit


def vision_tower(m: nn.Module, image_size, **kw) -> vit.VisionTransformer:
  """The ViT tower of classifier `m` from its `vision_*` attributes, over
  inputs of `image_size` (`kw`: video tubelets, the submodule's name)."""
  return vit.VisionTransformer(
      image_size, m.patch_size, m.vision_width, m.vision_layers,
      m.vision_heads, m.embed_dim, m.mlp_ratio, m.activation,
      m.dropout_rate, m.dtype, m.layer_norm_eps, **kw)


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
    self.img = vision_tower(self, self.image_size)
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


class AudioClassifier(nn.Module):
  """A spectrogram transformer, as AST: the log-mel spectrogram of the
  waveform (`models.audio`, computed in the step) cut into patches for a
  ViT tower over `(frames, num_mels)`, and a class head on its [CLS].
  `classify` reads float waveforms `(B, N)` in [-1, 1] at `sample_rate`;
  the tower's grid follows from N (a fixed clip length per run)."""

  num_classes: int
  embed_dim: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  sample_rate: int
  num_mels: int
  audio_window: int
  audio_hop: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS

  @nn.compact
  def classify(self, waveform: jax.Array, *, train: bool = False) -> dict:
    spec = audio.log_mel(waveform, sample_rate=self.sample_rate,
                         window=self.audio_window, hop=self.audio_hop,
                         num_mels=self.num_mels)
    # Roughly unit scale for the tower: log power of [-1, 1] audio.
    spec = (spec + 4.0) / 4.0
    embed, _ = vision_tower(self, spec.shape[1:], name="img")(
        spec[..., None], train=train)
    return _head_outputs(nn.Dense(self.num_classes, name="cls_head"), embed)

  def __call__(self, waveform: jax.Array, *, train: bool = False) -> dict:
    return self.classify(waveform, train=train)


class VideoClassifier(nn.Module):
  """A video transformer with tubelet embedding (ViViT's, unfactorised):
  the ViT tower over clips `(B, T, H, W, 3)` of normalised frames, one
  token per `tubelet_size` x `patch_size`² tubelet, and a class head on
  its [CLS]."""

  num_classes: int
  embed_dim: int
  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  tubelet_size: int
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS

  @nn.compact
  def classify(self, clips: jax.Array, *, train: bool = False) -> dict:
    embed, _ = vision_tower(self, self.image_size, num_frames=clips.shape[1],
                            tubelet_size=self.tubelet_size, name="img")(
                                clips, train=train)
    return _head_outputs(nn.Dense(self.num_classes, name="cls_head"), embed)

  def __call__(self, clips: jax.Array, *, train: bool = False) -> dict:
    return self.classify(clips, train=train)


CLASSIFIERS: dict[str, type[nn.Module]] = {
    "image": ImageClassifier, "text": TextClassifier,
    "audio": AudioClassifier, "video": VideoClassifier}

"""ViLT for image(s)-and-text classification
(`ViltForImagesAndTextClassification`'s layout: NLVR2 with two images,
SNLI-VE-style entailment with one): one single-stream transformer over a
sentence's word embeddings and an image's patch embeddings, run once per
image, and a classifier over the concatenated pooled outputs.

Submodules and parameters carry Hugging Face's names (`layer_0` for
`layer.0`, `classifier_0` for `classifier.0`), so a checkpoint imports by
name (`pretrained.hf_state`). The module speaks the classification task's
interface (`classify`, `encode_image`), so the tasks, losses and methods
use it unchanged. ViLT has no separate towers; its unimodal
representations are the same transformer's pass over one modality alone:

* `encode_image`: the image's tokens alone through the layers (every
  token: what L_UKR keeps) and their normalised [CLS] (`image_embed`);
* `classify`: the class logits, the concatenated pooled outputs as the
  multimodal representation (`fusion_cls`, what the classifier reads), and
  the unimodal `image_embed` (one per image) and `text_embed` (the
  sentence's [CLS] of its pass alone). Unused outputs cost nothing under
  `jit`, which drops them.

Hugging Face's `visual_embed` visits the patches in a random order; every
output here is invariant to that order but the per-patch tokens, which are
kept in raster order.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.models import bert
from mmul_jax.models import clip
from mmul_jax.models import layers
from mmul_jax.models import text_transformer

_gelu = layers.ACTIVATIONS["gelu_exact"]  # Hugging Face's "gelu"


def _interpolation(n_in: int, n_out: int) -> np.ndarray:
  """`(n_out, n_in)` weights of 1-D linear interpolation with aligned
  corners (torch's `interpolate(..., align_corners=True)`)."""
  if n_in == n_out:
    return np.eye(n_in, dtype=np.float32)
  src = np.arange(n_out) * ((n_in - 1) / max(n_out - 1, 1))
  lo = np.clip(np.floor(src).astype(int), 0, n_in - 1)
  hi = np.minimum(lo + 1, n_in - 1)
  frac = (src - lo).astype(np.float32)
  w = np.zeros((n_out, n_in), np.float32)
  w[np.arange(n_out), lo] += 1 - frac
  w[np.arange(n_out), hi] += frac
  return w


def resize_positions(grid: jax.Array, height: int, width: int) -> jax.Array:
  """Patch position embeddings `(h, w, C)` resized to `(height, width)`
  bilinearly with aligned corners, as ViLT reads images of another size
  than it was trained at."""
  rows = _interpolation(grid.shape[0], height)
  cols = _interpolation(grid.shape[1], width)
  return jnp.einsum("yh,xw,hwc->yxc", rows, cols, grid.astype(jnp.float32))


class _PatchEmbeddings(nn.Module):
  width: int
  patch_size: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images):
    p = self.patch_size
    return nn.Conv(self.width, (p, p), strides=(p, p), dtype=self.dtype,
                   name="projection")(images.astype(self.dtype))


class ViltEmbeddings(nn.Module):
  """`embeddings`: the text's and one image's token sequences, each with
  its modality type (text 0, the k-th image k + 1)."""

  vocab_size: int
  max_positions: int
  type_vocab_size: int
  modality_types: int
  width: int
  image_size: int
  patch_size: int
  eps: float
  dtype: Any = jnp.float32

  def setup(self):
    self.text_embeddings = bert.BertEmbeddings(
        self.vocab_size, self.max_positions, self.width, self.eps,
        self.dtype, self.type_vocab_size)
    self.patch_embeddings = _PatchEmbeddings(self.width, self.patch_size,
                                             self.dtype)
    grid = self.image_size // self.patch_size
    init = nn.initializers.truncated_normal(0.02)
    self.cls_token = self.param("cls_token", init, (1, 1, self.width))
    self.position_embeddings = self.param(
        "position_embeddings", init, (1, grid * grid + 1, self.width))
    self.token_type_embeddings = nn.Embed(
        self.modality_types, self.width, dtype=self.dtype)

  def _modality(self, x, index: int):
    return x + self.token_type_embeddings(jnp.full(x.shape[:2], index))

  def text(self, ids):
    return self._modality(self.text_embeddings(ids), 0)

  def image(self, images, index: int):
    """`images` `(B, H, W, 3)` as the `index`-th image of an example:
    [CLS] then the patches in raster order."""
    x = self.patch_embeddings(images)
    b, h, w, c = x.shape
    grid = self.image_size // self.patch_size
    pos = self.position_embeddings[0]
    spatial = resize_positions(pos[1:].reshape(grid, grid, c), h, w)
    x = x + spatial.reshape(1, h, w, c).astype(self.dtype)
    cls = self.cls_token + pos[0]
    x = jnp.concatenate(
        [jnp.broadcast_to(cls.astype(self.dtype), (b, 1, c)),
         x.reshape(b, h * w, c)], axis=1)
    return self._modality(x, index + 1)


class _Dense(nn.Module):
  """A module holding one Linear named `dense` (`attention.output`,
  `intermediate`, `output`)."""

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    return nn.Dense(self.features, dtype=self.dtype, name="dense")(x)


class _Attention(nn.Module):
  num_heads: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask):
    h = bert.BertSelfAttention(self.num_heads, self.dtype,
                               name="attention")(x, x, mask)
    return _Dense(x.shape[-1], self.dtype, name="output")(h)


class _Layer(nn.Module):
  """A pre-LN block (timm's ViT block with BERT's names)."""

  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask):
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    x = x + _Attention(self.num_heads, self.dtype, name="attention")(
        norm("layernorm_before")(x), mask)
    h = _gelu(_Dense(self.mlp_dim, self.dtype, name="intermediate")(
        norm("layernorm_after")(x)))
    return x + _Dense(x.shape[-1], self.dtype, name="output")(h)


class _Encoder(nn.Module):
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask):
    for i in range(self.num_layers):
      x = _Layer(self.num_heads, self.mlp_dim, self.eps, self.dtype,
                 name=f"layer_{i}")(x, mask)
    return x


class ViltModel(nn.Module):
  """`vilt`: embeddings, the encoder, the final LayerNorm and the pooler
  (tanh Linear on the first token)."""

  vocab_size: int
  max_positions: int
  modality_types: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  image_size: int
  patch_size: int
  type_vocab_size: int = 2
  eps: float = 1e-12
  dtype: Any = jnp.float32

  def setup(self):
    self.embeddings = ViltEmbeddings(
        self.vocab_size, self.max_positions, self.type_vocab_size,
        self.modality_types, self.width, self.image_size, self.patch_size,
        self.eps, self.dtype)
    self.encoder = _Encoder(self.num_layers, self.num_heads, self.mlp_dim,
                            self.eps, self.dtype)
    self.layernorm = nn.LayerNorm(epsilon=self.eps, dtype=self.dtype)
    self.pooler = _Dense(self.width, self.dtype)

  def encode(self, tokens, mask):
    """The final hidden states of a token sequence and its pooled output."""
    hidden = self.layernorm(self.encoder(tokens, mask))
    return hidden, jnp.tanh(self.pooler(hidden[:, 0]))

  def text_tokens(self, ids):
    return self.embeddings.text(ids)

  def image_tokens(self, images, index: int):
    return self.embeddings.image(images, index)


class ViltClassifier(nn.Module):
  """ViLT with `ViltForImagesAndTextClassification`'s head: the pooled
  outputs of the K image-text passes, concatenated, through Linear,
  LayerNorm, GELU, Linear (`classifier_0`, `_1`, `_3`)."""

  num_classes: int
  num_images: int
  vocab_size: int
  context_length: int  # the text positions
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  image_size: int
  patch_size: int
  eot_id: int = 102  # [SEP]: a text's tokens are those up to it
  eps: float = 1e-12
  head_eps: float = 1e-5  # torch's LayerNorm default, in the classifier
  dtype: Any = jnp.float32

  def setup(self):
    self.vilt = ViltModel(
        self.vocab_size, self.context_length, self.num_images + 1,
        self.width, self.num_layers, self.num_heads, self.mlp_dim,
        self.image_size, self.patch_size, eps=self.eps, dtype=self.dtype)
    wide = self.width * self.num_images
    self.classifier_0 = nn.Dense(wide, dtype=self.dtype)
    self.classifier_1 = nn.LayerNorm(epsilon=self.head_eps, dtype=self.dtype)
    self.classifier_3 = nn.Dense(self.num_classes, dtype=self.dtype)

  def _text(self, text):
    eot = text_transformer.eot_positions(text, self.eot_id)
    mask = jnp.arange(text.shape[1])[None, :] <= eot[:, None]
    return self.vilt.text_tokens(text), mask

  def joint(self, images: jax.Array, text: jax.Array, *,
            index: int = 0) -> tuple[jax.Array, jax.Array]:
    """One image-text pass, `images` `(B, H, W, 3)` as the `index`-th
    image: the final hidden states (the text's tokens, then the image's)
    and the pooled output."""
    text_tokens, text_mask = self._text(text)
    image_tokens = self.vilt.image_tokens(images, index)
    mask = jnp.concatenate(
        [text_mask, jnp.ones(image_tokens.shape[:2], bool)], axis=1)
    return self.vilt.encode(
        jnp.concatenate([text_tokens, image_tokens], axis=1), mask)

  def encode_image(self, images: jax.Array, *, index: int = 0,
                   train: bool = False) -> dict[str, jax.Array]:
    """`images` `(B, H, W, 3)`, normalised, as the `index`-th image of an
    example, through the transformer alone."""
    del train  # ViLT's fine-tuned checkpoints use no dropout
    tokens = self.vilt.image_tokens(images, index)
    hidden, _ = self.vilt.encode(tokens, None)
    return {"image_embed": clip.l2_normalize(hidden[:, 0].astype(
        jnp.float32)), "image_tokens": hidden,
            "image_mask": jnp.ones(hidden.shape[:2], bool)}

  def encode_text(self, text: jax.Array, *,
                  train: bool = False) -> dict[str, jax.Array]:
    """`text` `(B, L)` token ids ([CLS] ... [SEP], padding) through the
    transformer alone."""
    del train
    tokens, mask = self._text(text)
    hidden, _ = self.vilt.encode(tokens, mask)
    return {"text_embed": clip.l2_normalize(hidden[:, 0].astype(
        jnp.float32)), "text_tokens": hidden, "text_mask": mask}

  def classify(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    """`images` `(B, K, H, W, 3)` with K = `num_images`; `text` `(B, L)`.
    Returns `class_logits` `(B, C)`, `fusion_cls` (the K pooled outputs,
    concatenated), and the unimodal `image_embed` `(B, K, W)`,
    `image_tokens` `(B, K, T, W)` and `text_embed`."""
    k = images.shape[1]
    if k != self.num_images:
      raise ValueError(f"expected {self.num_images} image(s) per example, "
                       f"got images of shape {images.shape}")
    pooled = [self.joint(images[:, i], text, index=i)[1] for i in range(k)]
    alone = [self.encode_image(images[:, i], index=i, train=train)
             for i in range(k)]
    fused = jnp.concatenate(pooled, axis=-1)
    h = _gelu(self.classifier_1(self.classifier_0(fused)))
    logits = self.classifier_3(h)
    return {"class_logits": logits.astype(jnp.float32),
            "fusion_cls": fused.astype(jnp.float32),
            "image_embed": jnp.stack([a["image_embed"] for a in alone], 1),
            "image_tokens": jnp.stack([a["image_tokens"] for a in alone], 1),
            "text_embed": self.encode_text(text, train=train)["text_embed"]}

  def __call__(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    return self.classify(images, text, train=train)

"""ALBEF for image-text retrieval (LAVIS's `AlbefRetrieval`, the original
`ALBEF` of model_retrieval.py) and for classification (`AlbefClassifier`:
LAVIS's `AlbefClassification` for SNLI-VE, one image, and `AlbefNLVR` for
NLVR2, two images): a ViT image encoder (timm's layout), a BERT whose
first `text_layers` layers encode the text alone and whose last
`fusion_layers` layers continue from them, cross-attending to the image
(the matching pass), the ITC projections and the ITM head. In the NLVR2
model the fusion layers come in pairs, the first attending to the first
image and the second to the second, and a pair's cross-attention shares
its key and value projections (the second layer's: LAVIS's
`share_cross_attention`), so the even layer's `crossattention/self` holds
only its query.

Submodules and parameters carry ALBEF's state-dict names
(`visual_encoder/blocks_0/attn/qkv`, `text_encoder/encoder/layer_6/
crossattention/self/key`, `vision_proj`, `itm_head`), so a checkpoint
imports by name (`pretrained.albef_weights`). The module speaks the dual
encoder's interface, so the tasks and losses use it unchanged:

* `encode_image`: the normalised ITC embedding (`vision_proj` of the
  [CLS]) and every token after the final `norm` (what the fusion layers
  cross-attend to);
* `encode_text`: the normalised ITC embedding (`text_proj` of the text
  layers' [CLS]) and those layers' hidden states as the text's tokens;
* `fuse`: the fusion layers over those tokens; their [CLS] is the
  multimodal representation, `itm_head` of it the matching logits (logit
  1 "matched").

ALBEF's learned temperature `temp` is `logit_scale` = log(1 / temp).
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

class _Block(nn.Module):
  """timm's pre-LN block: `norm1`, `attn`, `norm2`, `mlp`."""

  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    x = x + layers.FusedQkvAttention(self.num_heads, "proj", self.dtype,
                                     name="attn")(norm("norm1")(x))
    return x + layers.FcMlp(self.mlp_dim, self.dtype,
                            name="mlp")(norm("norm2")(x))


class AlbefVision(nn.Module):
  """`visual_encoder`: patches, [CLS], position embeddings, pre-LN blocks,
  the final `norm` on every token. Returns `(B, 1 + patches, width)`."""

  image_size: int
  patch_size: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array) -> jax.Array:
    if images.shape[1:3] != (self.image_size, self.image_size):
      raise ValueError(f"ALBEF's image encoder expects {self.image_size}x"
                       f"{self.image_size} images, got shape {images.shape}")
    x = layers.PatchConv(self.width, self.patch_size, "proj", self.dtype,
                         name="patch_embed")(images)
    init = nn.initializers.truncated_normal(0.02)
    cls = self.param("cls_token", init, (1, 1, self.width))
    pos = self.param("pos_embed", init, (1, x.shape[1] + 1, self.width))
    x = jnp.concatenate([jnp.broadcast_to(cls.astype(self.dtype),
                                          (x.shape[0], 1, self.width)), x], 1)
    x = x + pos.astype(self.dtype)
    for i in range(self.num_layers):
      x = _Block(self.num_heads, self.mlp_dim, self.eps, self.dtype,
                 name=f"blocks_{i}")(x)
    return nn.LayerNorm(epsilon=self.eps, dtype=self.dtype, name="norm")(x)


class _PairedSelfAttention(nn.Module):
  """Cross-attention's `self` whose key and value projections can be
  another layer's (`kv`): the pair partner's in the NLVR2 model."""

  width: int
  num_heads: int
  dtype: Any = jnp.float32

  def setup(self):
    dense = lambda: nn.Dense(self.width, dtype=self.dtype)
    self.query, self.key, self.value = dense(), dense(), dense()

  def __call__(self, x, source, mask, kv=None):
    key, value = (self.key, self.value) if kv is None else kv
    return layers.attend(self.query(x), key(source), value(source), mask,
                         self.num_heads, self.dtype)


class _PairedCrossAttention(nn.Module):
  width: int
  num_heads: int
  eps: float
  dtype: Any = jnp.float32

  def setup(self):
    self.self = _PairedSelfAttention(self.width, self.num_heads, self.dtype)
    self.output = bert.BertOutput(self.eps, self.dtype)

  def __call__(self, x, mask, source, kv=None):
    return self.output(self.self(x, source, mask, kv), x)


class _PairedLayer(nn.Module):
  """A fusion layer of the NLVR2 model: BERT's layer (same names) whose
  cross-attention may borrow its key and value (`kv`)."""

  width: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  def setup(self):
    self.attention = bert.BertAttention(self.num_heads, self.eps, self.dtype)
    self.crossattention = _PairedCrossAttention(
        self.width, self.num_heads, self.eps, self.dtype)
    self.intermediate = bert.BertIntermediate(self.mlp_dim, self.dtype)
    self.output = bert.BertOutput(self.eps, self.dtype)

  def __call__(self, x, mask, context, context_mask, kv=None):
    x = self.attention(x, mask)
    x = self.crossattention(x, context_mask, context, kv)
    return self.output(self.intermediate(x), x)


class _PairedEncoder(nn.Module):
  """The NLVR2 model's `encoder`: `layer_{i}`, the first `text_layers`
  BERT's, the rest pairs of `_PairedLayer`; the call of
  `bert.BertEncoder` with a context and its mask per image (two)."""

  width: int
  text_layers: int
  fusion_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  def setup(self):
    self.layer = [bert.BertLayer(self.num_heads, self.mlp_dim, self.eps,
                                 self.dtype)
                  for _ in range(self.text_layers)] + [
                      _PairedLayer(self.width, self.num_heads, self.mlp_dim,
                                   self.eps, self.dtype)
                      for _ in range(self.fusion_layers)]

  def __call__(self, x, mask, context=None, context_mask=None, *,
               start: int = 0, stop: int | None = None):
    stop = len(self.layer) if stop is None else stop
    for i in range(start, min(stop, self.text_layers)):
      x = self.layer[i](x, mask)
    for i in range(max(start, self.text_layers), stop, 2):
      lender = self.layer[i + 1].crossattention.self
      x = self.layer[i](x, mask, context[0], context_mask[0],
                        kv=(lender.key, lender.value))
      x = self.layer[i + 1](x, mask, context[1], context_mask[1])
    return x


class AlbefText(nn.Module):
  """`text_encoder`: BERT embeddings (word + position, LayerNorm) and
  `text_layers` + `fusion_layers` layers; `text(...)` runs the first,
  `fusion(...)` the rest, cross-attending to the image (`paired`: to two
  images, their contexts and masks given as pairs)."""

  vocab_size: int
  max_positions: int
  width: int
  text_layers: int
  fusion_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-12
  paired: bool = False
  dtype: Any = jnp.float32

  def setup(self):
    self.embeddings = bert.BertEmbeddings(
        self.vocab_size, self.max_positions, self.width, self.eps, self.dtype)
    if self.paired:
      self.encoder = _PairedEncoder(
          self.width, self.text_layers, self.fusion_layers, self.num_heads,
          self.mlp_dim, self.eps, self.dtype)
    else:
      self.encoder = bert.BertEncoder(
          self.text_layers + self.fusion_layers, self.num_heads,
          self.mlp_dim, self.eps, self.dtype)

  def text(self, ids, mask):
    return self.encoder(self.embeddings(ids), mask, stop=self.text_layers)

  def fusion(self, hidden, mask, context, context_mask):
    return self.encoder(hidden, mask, context, context_mask,
                        start=self.text_layers)


def _towers(m: nn.Module) -> tuple[AlbefVision, AlbefText]:
  """The image encoder and BERT of an ALBEF model `m`, from its attributes
  (call in `setup`); two images per example pair the fusion layers."""
  return (AlbefVision(m.image_size, m.patch_size, m.vision_width,
                      m.vision_layers, m.vision_heads, m.vision_mlp_dim,
                      m.vision_eps, m.dtype),
          AlbefText(m.vocab_size, m.context_length, m.text_width,
                    m.text_layers, m.fusion_layers, m.text_heads,
                    m.text_mlp_dim, m.text_eps,
                    getattr(m, "num_images", 1) == 2, m.dtype))


class AlbefRetrieval(nn.Module):
  """ALBEF's image-text retrieval model with the dual encoder's interface
  (`encode_image`, `encode_text`, `fuse`, `__call__`, `logit_scale`)."""

  embed_dim: int
  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  vision_mlp_dim: int
  vocab_size: int
  context_length: int  # the text encoder's positions
  text_width: int
  text_layers: int  # layers without cross-attention
  fusion_layers: int  # layers after them, with cross-attention
  text_heads: int
  text_mlp_dim: int
  eot_id: int = 102  # [SEP]: a text's tokens are those up to it
  vision_eps: float = 1e-6
  text_eps: float = 1e-12
  logit_scale_init: float = float(np.log(1 / 0.07))
  dtype: Any = jnp.float32

  def setup(self):
    self.visual_encoder, self.text_encoder = _towers(self)
    self.vision_proj = nn.Dense(self.embed_dim, dtype=self.dtype)
    self.text_proj = nn.Dense(self.embed_dim, dtype=self.dtype)
    self.itm_head = nn.Dense(2, dtype=self.dtype)
    self.logit_scale = self.param(
        "logit_scale", nn.initializers.constant(self.logit_scale_init), ())

  def encode_image(self, images: jax.Array, *,
                   train: bool = False) -> dict[str, jax.Array]:
    """`images`: float `(B, H, W, 3)`, already normalised."""
    del train  # no dropout in ALBEF's fine-tuning
    tokens = self.visual_encoder(images)
    embed = self.vision_proj(tokens[:, 0])
    return {"image_embed": clip.l2_normalize(embed.astype(jnp.float32)),
            "image_tokens": tokens,
            "image_mask": jnp.ones(tokens.shape[:2], bool)}

  def encode_text(self, text: jax.Array, *,
                  train: bool = False) -> dict[str, jax.Array]:
    """`text`: int token ids `(B, L)`: [CLS], the text, [SEP] (`eot_id`),
    then padding, which no token attends to."""
    del train
    eot = text_transformer.eot_positions(text, self.eot_id)
    mask = jnp.arange(text.shape[1])[None, :] <= eot[:, None]
    hidden = self.text_encoder.text(text, mask)
    embed = self.text_proj(hidden[:, 0])
    return {"text_embed": clip.l2_normalize(embed.astype(jnp.float32)),
            "text_tokens": hidden, "text_mask": mask}

  def fuse(self, image_tokens: jax.Array, text_tokens: jax.Array,
           text_mask: jax.Array, image_mask: jax.Array | None = None, *,
           train: bool = False) -> dict[str, jax.Array]:
    """The fusion layers over the text layers' hidden states."""
    del train
    if image_mask is None:
      image_mask = jnp.ones(image_tokens.shape[:2], bool)
    hidden = self.text_encoder.fusion(text_tokens, text_mask, image_tokens,
                                      image_mask)
    cls = hidden[:, 0]
    return {"fusion_cls": cls.astype(jnp.float32),
            "itm_logits": self.itm_head(cls).astype(jnp.float32)}

  def __call__(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    """Every representation for aligned pairs `(images[i], text[i])`."""
    return clip.all_outputs(self, images, text, train=train)


class AlbefClassifier(nn.Module):
  """ALBEF's SNLI-VE model (`AlbefClassification`, `num_images` 1) or its
  NLVR2 model (`AlbefNLVR`, 2: paired fusion layers, 6 + 12 in the
  released one) with the classification task's interface (`classify`,
  `encode_image`): the text layers, then the fusion layers over the
  images' tokens, and `cls_head` (Linear, ReLU, Linear: `cls_head_0`,
  `cls_head_2`) on the fusion [CLS]. Its unimodal embeddings are the
  normalised [CLS] of the image encoder and of the text layers (these
  checkpoints keep no ITC projections)."""

  num_classes: int
  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  vision_mlp_dim: int
  vocab_size: int
  context_length: int
  text_width: int
  text_layers: int
  fusion_layers: int
  text_heads: int
  text_mlp_dim: int
  num_images: int = 1
  eot_id: int = 102
  vision_eps: float = 1e-6
  text_eps: float = 1e-12
  dtype: Any = jnp.float32

  def setup(self):
    if self.num_images not in (1, 2):
      raise ValueError(f"ALBEF classifies one image (SNLI-VE) or two "
                       f"(NLVR2) with a sentence, not {self.num_images}")
    if self.num_images == 2 and self.fusion_layers % 2:
      raise ValueError(f"ALBEF's NLVR2 model pairs its fusion layers, one "
                       f"per image; fusion_layers = {self.fusion_layers} "
                       "is odd")
    self.visual_encoder, self.text_encoder = _towers(self)
    self.cls_head_0 = nn.Dense(self.text_width, dtype=self.dtype)
    self.cls_head_2 = nn.Dense(self.num_classes, dtype=self.dtype)

  def encode_image(self, images: jax.Array, *,
                   train: bool = False) -> dict[str, jax.Array]:
    del train
    tokens = self.visual_encoder(images)
    return {"image_embed": clip.l2_normalize(tokens[:, 0].astype(
        jnp.float32)), "image_tokens": tokens,
            "image_mask": jnp.ones(tokens.shape[:2], bool)}

  def classify(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    """`images` `(B, K, H, W, 3)` with K = `num_images`; `text` `(B, L)`.
    Returns `class_logits`, `fusion_cls`, `image_embed` `(B, K, W)`,
    `image_tokens` `(B, K, T, W)` and `text_embed`."""
    b, k = images.shape[:2]
    if k != self.num_images:
      raise ValueError(f"expected {self.num_images} image(s) per example, "
                       f"got images of shape {images.shape}")
    # Every image through the encoder at once, as LAVIS concatenates them.
    img = self.encode_image(images.reshape((b * k,) + images.shape[2:]),
                            train=train)
    img = {n: v.reshape((b, k) + v.shape[1:]) for n, v in img.items()}
    eot = text_transformer.eot_positions(text, self.eot_id)
    mask = jnp.arange(text.shape[1])[None, :] <= eot[:, None]
    hidden = self.text_encoder.text(text, mask)
    tokens = [img["image_tokens"][:, i] for i in range(k)]
    masks = [img["image_mask"][:, i] for i in range(k)]
    if k == 1:
      tokens, masks = tokens[0], masks[0]
    fused = self.text_encoder.fusion(hidden, mask, tokens, masks)[:, 0]
    logits = self.cls_head_2(nn.relu(self.cls_head_0(fused)))
    return {"class_logits": logits.astype(jnp.float32),
            "fusion_cls": fused.astype(jnp.float32),
            "image_embed": img["image_embed"],
            "image_tokens": img["image_tokens"],
            "text_embed": clip.l2_normalize(hidden[:, 0].astype(
                jnp.float32))}

  def __call__(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    return self.classify(images, text, train=train)


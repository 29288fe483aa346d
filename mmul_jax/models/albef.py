"""ALBEF for image-text retrieval (LAVIS's `AlbefRetrieval`, the original
`ALBEF` of model_retrieval.py) and for visual entailment (`AlbefClassifier`:
LAVIS's `AlbefClassification`, SNLI-VE): a ViT image encoder (timm's
layout), a BERT
whose first `text_layers` layers encode the text alone and whose last
`fusion_layers` layers continue from them, cross-attending to the image
(the matching pass), the ITC projections and the ITM head.

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


class _PatchEmbed(nn.Module):
  width: int
  patch_size: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images):
    p = self.patch_size
    x = nn.Conv(self.width, (p, p), strides=(p, p), dtype=self.dtype,
                name="proj")(images.astype(self.dtype))
    return x.reshape(x.shape[0], -1, self.width)


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
    x = _PatchEmbed(self.width, self.patch_size, self.dtype,
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


class AlbefText(nn.Module):
  """`text_encoder`: BERT embeddings (word + position, LayerNorm) and
  `text_layers` + `fusion_layers` layers; `text(...)` runs the first,
  `fusion(...)` the rest, cross-attending to the image."""

  vocab_size: int
  max_positions: int
  width: int
  text_layers: int
  fusion_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-12
  dtype: Any = jnp.float32

  def setup(self):
    self.embeddings = bert.BertEmbeddings(
        self.vocab_size, self.max_positions, self.width, self.eps, self.dtype)
    self.encoder = bert.BertEncoder(
        self.text_layers + self.fusion_layers, self.num_heads, self.mlp_dim,
        self.eps, self.dtype)

  def text(self, ids, mask):
    return self.encoder(self.embeddings(ids), mask, stop=self.text_layers)

  def fusion(self, hidden, mask, context, context_mask):
    return self.encoder(hidden, mask, context, context_mask,
                        start=self.text_layers)


def _towers(m: nn.Module) -> tuple[AlbefVision, AlbefText]:
  """The image encoder and BERT of an ALBEF model `m`, from its attributes
  (call in `setup`)."""
  return (AlbefVision(m.image_size, m.patch_size, m.vision_width,
                      m.vision_layers, m.vision_heads, m.vision_mlp_dim,
                      m.vision_eps, m.dtype),
          AlbefText(m.vocab_size, m.context_length, m.text_width,
                    m.text_layers, m.fusion_layers, m.text_heads,
                    m.text_mlp_dim, m.text_eps, m.dtype))


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
  """ALBEF's SNLI-VE model (`AlbefClassification`) with the classification
  task's interface (`classify`, `encode_image`): the text layers, then the
  fusion layers over the image's tokens, and `cls_head` (Linear, ReLU,
  Linear: `cls_head_0`, `cls_head_2`) on the fusion [CLS]. One image per
  example (ALBEF's NLVR2 model, whose fusion layers alternate between two
  images, is another architecture). Its unimodal embeddings are the
  normalised [CLS] of the image encoder and of the text layers (the VE
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
    if self.num_images != 1:
      raise ValueError("ALBEF's classifier reads one image per example; "
                       "its NLVR2 model (two images) is not supported")
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
    """`images` `(B, 1, H, W, 3)`; `text` `(B, L)`. Returns
    `class_logits`, `fusion_cls`, `image_embed` `(B, 1, W)`,
    `image_tokens` `(B, 1, T, W)` and `text_embed`."""
    if images.shape[1] != 1:
      raise ValueError(f"expected 1 image per example, got images of shape "
                       f"{images.shape}")
    img = self.encode_image(images[:, 0], train=train)
    eot = text_transformer.eot_positions(text, self.eot_id)
    mask = jnp.arange(text.shape[1])[None, :] <= eot[:, None]
    hidden = self.text_encoder.text(text, mask)
    fused = self.text_encoder.fusion(hidden, mask, img["image_tokens"],
                                     img["image_mask"])[:, 0]
    logits = self.cls_head_2(nn.relu(self.cls_head_0(fused)))
    return {"class_logits": logits.astype(jnp.float32),
            "fusion_cls": fused.astype(jnp.float32),
            "image_embed": img["image_embed"][:, None],
            "image_tokens": img["image_tokens"][:, None],
            "text_embed": clip.l2_normalize(hidden[:, 0].astype(
                jnp.float32))}

  def __call__(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    return self.classify(images, text, train=train)


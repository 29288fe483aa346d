"""BLIP for image-text retrieval (`BlipForImageTextRetrieval`'s layout):
a ViT image encoder, a BERT text encoder whose layers cross-attend to the
image when asked (the matching pass), the ITC projections and the ITM
head.

Submodules and parameters carry Hugging Face's names (`layer_0` for
`layer.0`, `kernel` for a Linear's transposed `weight`), so a checkpoint
imports by name (`pretrained.hf_state`). The module speaks the dual
encoder's interface, so the tasks and losses use it unchanged:

* `encode_image`: the normalised ITC embedding (`vision_proj` of the
  [CLS]) and every token after `post_layernorm` (what the text
  cross-attends to);
* `encode_text`: the normalised ITC embedding (`text_proj` of the
  unimodal pass's [CLS]), and the text's embeddings (word + position,
  normalised) as its tokens: BLIP's matching pass re-reads the same
  embeddings through the layers with cross-attention;
* `fuse`: that matching pass; its [CLS] is the multimodal representation,
  `itm_head` of it the matching logits (logit 1 "matched").
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


class _VisionLayer(nn.Module):
  """A pre-LN block: self-attention, then the MLP."""

  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    x = x + layers.FusedQkvAttention(
        self.num_heads, "projection", self.dtype,
        name="self_attn")(norm("layer_norm1")(x))
    return x + layers.FcMlp(self.mlp_dim, self.dtype,
                            name="mlp")(norm("layer_norm2")(x))


class _VisionEmbeddings(nn.Module):
  """Patches by a biased conv, a [CLS] in front, position embeddings."""

  image_size: int
  patch_size: int
  width: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images):
    p, w = self.patch_size, self.width
    x = nn.Conv(w, (p, p), strides=(p, p), dtype=self.dtype,
                name="patch_embedding")(images.astype(self.dtype))
    x = x.reshape(x.shape[0], -1, w)
    init = nn.initializers.truncated_normal(0.02)
    cls = self.param("class_embedding", init, (1, 1, w))
    pos = self.param("position_embedding", init, (1, x.shape[1] + 1, w))
    cls = jnp.broadcast_to(cls.astype(self.dtype), (x.shape[0], 1, w))
    return jnp.concatenate([cls, x], axis=1) + pos.astype(self.dtype)


class _VisionEncoder(nn.Module):
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    for i in range(self.num_layers):
      x = _VisionLayer(self.num_heads, self.mlp_dim, self.eps, self.dtype,
                       name=f"layers_{i}")(x)
    return x


class BlipVision(nn.Module):
  """`vision_model`: embeddings, pre-LN layers, `post_layernorm` on every
  token. Returns `(B, 1 + patches, width)`."""

  image_size: int
  patch_size: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array) -> jax.Array:
    if images.shape[1:3] != (self.image_size, self.image_size):
      raise ValueError(f"BLIP's image encoder expects {self.image_size}x"
                       f"{self.image_size} images, got shape {images.shape}")
    x = _VisionEmbeddings(self.image_size, self.patch_size, self.width,
                          self.dtype, name="embeddings")(images)
    x = _VisionEncoder(self.num_layers, self.num_heads, self.mlp_dim,
                       self.eps, self.dtype, name="encoder")(x)
    return nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                        name="post_layernorm")(x)


class BlipText(nn.Module):
  """`text_encoder`: BERT embeddings (word + position, LayerNorm) and
  layers. `embed(ids)` gives the embeddings; calling it runs the layers
  over them, cross-attending to `context` when given (its
  `crossattention` parameters exist once a call has given one)."""

  vocab_size: int
  max_positions: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float = 1e-12
  dtype: Any = jnp.float32

  def setup(self):
    self.embeddings = bert.BertEmbeddings(
        self.vocab_size, self.max_positions, self.width, self.eps, self.dtype)
    self.encoder = bert.BertEncoder(self.num_layers, self.num_heads,
                                    self.mlp_dim, self.eps, self.dtype)

  def embed(self, ids: jax.Array) -> jax.Array:
    return self.embeddings(ids)

  def __call__(self, embedded, mask, context=None, context_mask=None):
    return self.encoder(embedded, mask, context, context_mask)


class BlipRetrieval(nn.Module):
  """BLIP's image-text retrieval model with the dual encoder's interface
  (`encode_image`, `encode_text`, `fuse`, `__call__`, `logit_scale`).

  Hugging Face's retrieval checkpoints keep no ITC temperature; the
  contrastive loss reads `logit_scale`, which starts at
  `logit_scale_init` (BLIP trains it from 1 / 0.07).
  """

  embed_dim: int  # image_text_hidden_size
  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  vision_mlp_dim: int
  vocab_size: int
  context_length: int  # the text encoder's positions
  text_width: int
  text_layers: int
  text_heads: int
  text_mlp_dim: int
  eot_id: int = 102  # [SEP]: a text's tokens are those up to it
  vision_eps: float = 1e-5
  text_eps: float = 1e-12
  logit_scale_init: float = float(np.log(1 / 0.07))
  dtype: Any = jnp.float32

  def setup(self):
    self.vision_model = BlipVision(
        self.image_size, self.patch_size, self.vision_width,
        self.vision_layers, self.vision_heads, self.vision_mlp_dim,
        self.vision_eps, self.dtype)
    self.text_encoder = BlipText(
        self.vocab_size, self.context_length, self.text_width,
        self.text_layers, self.text_heads, self.text_mlp_dim, self.text_eps,
        self.dtype)
    self.vision_proj = nn.Dense(self.embed_dim, dtype=self.dtype)
    self.text_proj = nn.Dense(self.embed_dim, dtype=self.dtype)
    self.itm_head = nn.Dense(2, dtype=self.dtype)
    self.logit_scale = self.param(
        "logit_scale", nn.initializers.constant(self.logit_scale_init), ())

  def encode_image(self, images: jax.Array, *,
                   train: bool = False) -> dict[str, jax.Array]:
    """`images`: float `(B, H, W, 3)`, already normalised."""
    del train  # BLIP's retrieval models have no dropout
    tokens = self.vision_model(images)
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
    embedded = self.text_encoder.embed(text)
    hidden = self.text_encoder(embedded, mask)
    embed = self.text_proj(hidden[:, 0])
    return {"text_embed": clip.l2_normalize(embed.astype(jnp.float32)),
            "text_tokens": embedded, "text_mask": mask}

  def fuse(self, image_tokens: jax.Array, text_tokens: jax.Array,
           text_mask: jax.Array, image_mask: jax.Array | None = None, *,
           train: bool = False) -> dict[str, jax.Array]:
    """The matching pass over the text's embeddings `text_tokens`."""
    del train
    if image_mask is None:
      image_mask = jnp.ones(image_tokens.shape[:2], bool)
    hidden = self.text_encoder(text_tokens, text_mask, image_tokens,
                               image_mask)
    cls = hidden[:, 0]
    return {"fusion_cls": cls.astype(jnp.float32),
            "itm_logits": self.itm_head(cls).astype(jnp.float32)}

  def __call__(self, images: jax.Array, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    """Every representation for aligned pairs `(images[i], text[i])`."""
    return clip.all_outputs(self, images, text, train=train)

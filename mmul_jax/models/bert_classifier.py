"""BERT-family sequence classifiers (MU-Bench's IMDB and DDI backbones) in
Flax under Hugging Face's module names, so a checkpoint imports by name
(`pretrained.bert_weights`):

* `bert` (`BertForSequenceClassification`; BioBERT and PubMedBERT are BERT
  checkpoints): the encoder, the pooler (`dense` + tanh on [CLS]) and
  `classifier`;
* `roberta` (`RobertaForSequenceClassification`): the same encoder with
  positions from RoBERTa's offset, and `classifier` = `dense` + tanh +
  `out_proj` on <s>;
* `distilbert` (`DistilBertForSequenceClassification`): DistilBERT's
  `transformer` (`q_lin` ... `out_lin`, `sa_layer_norm`, `ffn`,
  `output_layer_norm`), `pre_classifier` + ReLU and `classifier` on
  [CLS].

`classify(ids)` speaks the unimodal classifiers' interface: the class
logits and `features`, the vector the last Linear reads (the pooler's,
RoBERTa's head's or DistilBERT's `pre_classifier` output). A text's
tokens are those up to its first end-of-text token (`eot_id`: [SEP] or
</s>); padding after it is attended by none. Token type embeddings are
folded into the positions on import (a single text only uses type 0), so
the module has none. No dropout (deterministic fine-tuning).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import bert
from mmul_jax.models import config_keys
from mmul_jax.models import layers
from mmul_jax.models import text_transformer

LAYOUTS = config_keys.TEXT_CLASSIFIERS  # ("bert", "roberta", "distilbert")
_gelu = layers.ACTIVATIONS["gelu_exact"]


class _Pooler(nn.Module):
  """BERT's pooler: `dense` + tanh on [CLS]."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, cls):
    return jnp.tanh(nn.Dense(cls.shape[-1], dtype=self.dtype,
                             name="dense")(cls))


class _Encoder(nn.Module):
  """`embeddings` and BERT's `encoder` (BERT, RoBERTa), with BERT's
  `pooler` when `with_pooler`."""

  vocab_size: int
  max_positions: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  position_offset: int
  with_pooler: bool
  dtype: Any = jnp.float32

  def setup(self):
    self.embeddings = bert.BertEmbeddings(
        self.vocab_size, self.max_positions, self.width, self.eps,
        self.dtype, position_offset=self.position_offset)
    self.encoder = bert.BertEncoder(self.num_layers, self.num_heads,
                                    self.mlp_dim, self.eps, self.dtype)
    if self.with_pooler:
      self.pooler = _Pooler(self.dtype)

  def __call__(self, ids, mask):
    return self.encoder(self.embeddings(ids), mask)


class _DistilAttention(nn.Module):
  num_heads: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask):
    dense = lambda name: nn.Dense(x.shape[-1], dtype=self.dtype, name=name)
    h = layers.attend(dense("q_lin")(x), dense("k_lin")(x), dense("v_lin")(x),
                      mask, self.num_heads, self.dtype)
    return dense("out_lin")(h)


class _Ffn(nn.Module):
  mlp_dim: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    h = _gelu(nn.Dense(self.mlp_dim, dtype=self.dtype, name="lin1")(x))
    return nn.Dense(x.shape[-1], dtype=self.dtype, name="lin2")(h)


class _DistilLayer(nn.Module):
  """DistilBERT's post-LN block."""

  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask):
    norm = lambda name: nn.LayerNorm(epsilon=self.eps, dtype=self.dtype,
                                     name=name)
    x = norm("sa_layer_norm")(
        x + _DistilAttention(self.num_heads, self.dtype,
                             name="attention")(x, mask))
    h = _Ffn(self.mlp_dim, self.dtype, name="ffn")(x)
    return norm("output_layer_norm")(x + h)


class _Transformer(nn.Module):
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  def setup(self):
    self.layer = [_DistilLayer(self.num_heads, self.mlp_dim, self.eps,
                               self.dtype) for _ in range(self.num_layers)]

  def __call__(self, x, mask):
    for layer in self.layer:
      x = layer(x, mask)
    return x


class _DistilBert(nn.Module):
  vocab_size: int
  max_positions: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eps: float
  dtype: Any = jnp.float32

  def setup(self):
    self.embeddings = bert.BertEmbeddings(
        self.vocab_size, self.max_positions, self.width, self.eps,
        self.dtype)
    self.transformer = _Transformer(self.num_layers, self.num_heads,
                                    self.mlp_dim, self.eps, self.dtype)

  def __call__(self, ids, mask):
    return self.transformer(self.embeddings(ids), mask)


class _RobertaHead(nn.Module):
  num_classes: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, cls):
    features = jnp.tanh(nn.Dense(cls.shape[-1], dtype=self.dtype,
                                 name="dense")(cls))
    return features, nn.Dense(self.num_classes, dtype=self.dtype,
                              name="out_proj")(features)


class BertClassifier(nn.Module):
  """A BERT-family sequence classifier (`layout` in `LAYOUTS`) with the
  unimodal classifiers' `classify`."""

  layout: str
  num_classes: int
  vocab_size: int
  max_positions: int
  width: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  eot_id: int
  position_offset: int = 0  # RoBERTa: its padding id + 1
  eps: float = 1e-12
  dtype: Any = jnp.float32

  def setup(self):
    if self.layout not in LAYOUTS:
      raise ValueError(f"layout {self.layout!r} is not one of {LAYOUTS}")
    sizes = (self.vocab_size, self.max_positions, self.width,
             self.num_layers, self.num_heads, self.mlp_dim, self.eps)
    if self.layout == "distilbert":
      self.distilbert = _DistilBert(*sizes, self.dtype)
      self.pre_classifier = nn.Dense(self.width, dtype=self.dtype)
      self.classifier = nn.Dense(self.num_classes, dtype=self.dtype)
    elif self.layout == "bert":
      self.bert = _Encoder(*sizes, 0, True, self.dtype)
      self.classifier = nn.Dense(self.num_classes, dtype=self.dtype)
    else:
      self.roberta = _Encoder(*sizes, self.position_offset, False,
                              self.dtype)
      self.classifier = _RobertaHead(self.num_classes, self.dtype)

  def classify(self, ids: jax.Array, *, train: bool = False) -> dict:
    """`ids` `(B, L)` int token ids. Returns `class_logits` and
    `features` (float32)."""
    del train  # no dropout
    eot = text_transformer.eot_positions(ids, self.eot_id)
    mask = jnp.arange(ids.shape[1])[None, :] <= eot[:, None]
    if self.layout == "distilbert":
      cls = self.distilbert(ids, mask)[:, 0]
      features = nn.relu(self.pre_classifier(cls))
      logits = self.classifier(features)
    elif self.layout == "bert":
      cls = self.bert(ids, mask)[:, 0]
      features = self.bert.pooler(cls)
      logits = self.classifier(features)
    else:
      features, logits = self.classifier(self.roberta(ids, mask)[:, 0])
    return {"class_logits": logits.astype(jnp.float32),
            "features": features.astype(jnp.float32)}

  def __call__(self, ids: jax.Array, *, train: bool = False) -> dict:
    return self.classify(ids, train=train)

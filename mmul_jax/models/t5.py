"""T5-style encoder-decoder language models (T5, T5 v1.1, flan-t5) in Flax
under Hugging Face's module names, so a checkpoint imports by name
(`pretrained.t5_weights`): `shared` (the token embedding), `encoder` and
`decoder` stacks of `block.N.layer.M` (`SelfAttention` with T5's bucketed
relative position bias, computed in block 0 and shared by the others;
the decoder's `EncDecAttention`; `DenseReluDense`: ReLU, or gated GELU /
SiLU; each with its RMS `layer_norm`), `final_layer_norm`, and `lm_head`
(or the shared embedding, tied).

`remat` rematerialises each block in the backward pass, as the Llama
layout's. As transformers' T5: no 1/sqrt(d) on the attention scores (it is
folded into the weights), and the decoder's output is scaled by d_model^-0.5
before a tied head (`scale_decoder_outputs`, T5 v1.0), not before
flan-t5's own `lm_head`.

* `model.apply(params, ids, mask, decoder_ids, decoder_mask)`: the
  decoder's next-token logits `(B, T, V)` under teacher forcing;
* `method=model.encode` / `model.decode` run one side; `decode` with a
  cache (`init_cache`, whose cross-attention keys and values
  `method=model.cross_cache` computes once per source) appends tokens at
  the cache's `index`, for `models.decoding.generate_seq2seq`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models.llama import RMSNorm
from mmul_jax.models.llama import write_cache

ACTIVATIONS = {"relu": jax.nn.relu, "gelu_new": lambda x: jax.nn.gelu(
    x, approximate=True), "gelu": lambda x: jax.nn.gelu(x, approximate=False),
               "silu": jax.nn.silu}


@dataclasses.dataclass(frozen=True)
class T5Config:
  """The architecture (`pretrained.t5_weights.model_config`)."""

  vocab_size: int
  d_model: int
  d_kv: int
  d_ff: int
  num_layers: int
  num_decoder_layers: int
  num_heads: int
  num_buckets: int = 32
  max_distance: int = 128
  eps: float = 1e-6
  gated: bool = False
  act: str = "relu"
  tie_embeddings: bool = True
  scale_decoder_outputs: bool = True
  decoder_start_id: int = 0


def position_buckets(relative: jax.Array, bidirectional: bool,
                     num_buckets: int, max_distance: int) -> jax.Array:
  """T5's bucket of each `key - query` offset: exact for small offsets,
  logarithmic up to `max_distance`; the decoder's only looks back."""
  buckets = jnp.zeros_like(relative)
  if bidirectional:
    num_buckets //= 2
    buckets += (relative > 0).astype(relative.dtype) * num_buckets
    relative = jnp.abs(relative)
  else:
    relative = -jnp.minimum(relative, 0)
  exact = num_buckets // 2
  large = exact + (jnp.log(jnp.maximum(relative, 1).astype(jnp.float32)
                           / exact) / math.log(max_distance / exact)
                   * (num_buckets - exact)).astype(relative.dtype)
  large = jnp.minimum(large, num_buckets - 1)
  return buckets + jnp.where(relative < exact, relative, large)


class Attention(nn.Module):
  """Multi-head attention without score scaling; with `has_bias`, T5's
  relative position bias (returned, for the later blocks). `kv_only`
  returns the keys and values of `x` (a cache's, or the encoder's)."""

  cfg: T5Config
  has_bias: bool = False
  bidirectional: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, keys=None, values=None, allowed=None, bias=None,
               query_positions=None, key_positions=None, kv_only=False):
    c = self.cfg
    dense = lambda n, name: nn.Dense(n, use_bias=False, dtype=self.dtype,
                                     name=name)
    k_proj = dense(c.num_heads * c.d_kv, "k")
    v_proj = dense(c.num_heads * c.d_kv, "v")

    def kv(states):
      b, s, _ = states.shape
      return (k_proj(states).reshape(b, s, c.num_heads, c.d_kv),
              v_proj(states).reshape(b, s, c.num_heads, c.d_kv))

    if kv_only:
      return kv(x)
    b, t, _ = x.shape
    q = dense(c.num_heads * c.d_kv, "q")(x).reshape(b, t, c.num_heads,
                                                    c.d_kv)
    if keys is None:
      keys, values = kv(x)
    scores = jnp.einsum("bthd,bshd->bhts", q, keys.astype(self.dtype))
    scores = scores.astype(jnp.float32)
    if self.has_bias:
      relative = key_positions[None, :] - query_positions[:, None]
      table = nn.Embed(c.num_buckets, c.num_heads,
                       name="relative_attention_bias")
      bias = table(position_buckets(relative, self.bidirectional,
                                    c.num_buckets, c.max_distance))
      bias = jnp.transpose(bias, (2, 0, 1))[None].astype(jnp.float32)
    if bias is not None:
      scores = scores + bias
    scores = jnp.where(allowed[:, None], scores, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(scores, axis=-1).astype(self.dtype)
    out = jnp.einsum("bhts,bshd->bthd", weights, values.astype(self.dtype))
    out = dense(c.d_model, "o")(out.reshape(b, t, c.num_heads * c.d_kv))
    return out, bias


class DenseReluDense(nn.Module):
  cfg: T5Config
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    c = self.cfg
    dense = lambda n, name: nn.Dense(n, use_bias=False, dtype=self.dtype,
                                     name=name)
    act = ACTIVATIONS[c.act]
    if c.gated:
      h = act(dense(c.d_ff, "wi_0")(x)) * dense(c.d_ff, "wi_1")(x)
    else:
      h = act(dense(c.d_ff, "wi")(x))
    return dense(c.d_model, "wo")(h)


class SelfAttentionLayer(nn.Module):
  cfg: T5Config
  has_bias: bool
  bidirectional: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, allowed, bias, query_positions, key_positions,
               layer_cache=None, index=None):
    h = RMSNorm(self.cfg.eps, self.dtype, name="layer_norm")(x)
    attention = Attention(self.cfg, self.has_bias, self.bidirectional,
                          self.dtype, name="SelfAttention")
    keys = values = None
    if layer_cache is not None:  # write the new keys and values in place
      layer_cache = write_cache(layer_cache, *attention(h, kv_only=True),
                                index)
      keys, values = layer_cache["k"], layer_cache["v"]
    out, bias = attention(h, keys, values, allowed, bias, query_positions,
                          key_positions)
    return x + out, bias, layer_cache


class CrossAttentionLayer(nn.Module):
  cfg: T5Config
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, encoded, allowed, cross=None, cross_only=False):
    attention = Attention(self.cfg, dtype=self.dtype, name="EncDecAttention")
    if cross_only:
      return attention(encoded, kv_only=True)
    h = RMSNorm(self.cfg.eps, self.dtype, name="layer_norm")(x)
    keys, values = (cross if cross is not None
                    else attention(encoded, kv_only=True))
    out, _ = attention(h, keys, values, allowed)
    return x + out


class FeedForwardLayer(nn.Module):
  cfg: T5Config
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    h = RMSNorm(self.cfg.eps, self.dtype, name="layer_norm")(x)
    return x + DenseReluDense(self.cfg, self.dtype, name="DenseReluDense")(h)


class Block(nn.Module):
  cfg: T5Config
  index: int
  decoder: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, allowed, bias, query_positions, key_positions,
               encoded=None, cross_allowed=None, layer_cache=None,
               index=None, cross_only=False):
    if cross_only:
      return CrossAttentionLayer(self.cfg, self.dtype, name="layer_1")(
          None, encoded, None, cross_only=True)
    x, bias, layer_cache = SelfAttentionLayer(
        self.cfg, self.index == 0, not self.decoder, self.dtype,
        name="layer_0")(x, allowed, bias, query_positions, key_positions,
                        layer_cache, index)
    if self.decoder:
      cross = None if layer_cache is None else (layer_cache["ck"],
                                                layer_cache["cv"])
      x = CrossAttentionLayer(self.cfg, self.dtype, name="layer_1")(
          x, encoded, cross_allowed, cross)
    x = FeedForwardLayer(self.cfg, self.dtype,
                         name=f"layer_{2 if self.decoder else 1}")(x)
    return x, bias, layer_cache


class Stack(nn.Module):
  """`encoder` or `decoder`: the blocks and the final norm; `remat`
  rematerialises each block in the backward pass."""

  cfg: T5Config
  decoder: bool
  dtype: Any = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, x, mask, encoded=None, encoded_mask=None, cache=None,
               cross_only=False):
    c = self.cfg
    n = c.num_decoder_layers if self.decoder else c.num_layers
    if cross_only:  # each decoder block's cross-attention keys and values
      return [Block(c, i, True, self.dtype, name=f"block_{i}")(
          None, None, None, None, None, encoded, cross_only=True)
              for i in range(n)]
    t = x.shape[1]
    if cache is None:
      query_positions = key_positions = jnp.arange(t)
      keys_ok = mask
      index = None
    else:
      index = cache["index"]
      keys_ok = jax.lax.dynamic_update_slice(cache["mask"], mask,
                                             (0, index))
      query_positions = index + jnp.arange(t)
      key_positions = jnp.arange(keys_ok.shape[1])
    allowed = jnp.broadcast_to(keys_ok[:, None, :],
                               (x.shape[0], t, keys_ok.shape[1]))
    if self.decoder:  # causal, by position
      allowed = allowed & (key_positions[None, None, :]
                           <= query_positions[None, :, None])
    cross_allowed = (None if encoded_mask is None
                     else encoded_mask[:, None, :])
    bias, new_layers = None, []
    block_cls = nn.remat(Block) if self.remat else Block
    for i in range(n):
      layer_cache = None if cache is None else cache["layers"][i]
      x, bias, layer_cache = block_cls(c, i, self.decoder, self.dtype,
                                       name=f"block_{i}")(
          x, allowed, bias, query_positions, key_positions, encoded,
          cross_allowed, layer_cache, index)
      new_layers.append(layer_cache)
    x = RMSNorm(c.eps, self.dtype, name="final_layer_norm")(x)
    if cache is None:
      return x, None
    return x, {"layers": new_layers, "mask": keys_ok,
               "index": index + t}


class T5ForConditionalGeneration(nn.Module):
  cfg: T5Config
  dtype: Any = jnp.float32
  remat: bool = False

  def setup(self):
    c = self.cfg
    self.shared = nn.Embed(c.vocab_size, c.d_model, dtype=self.dtype)
    self.encoder = Stack(c, decoder=False, dtype=self.dtype,
                         remat=self.remat)
    self.decoder = Stack(c, decoder=True, dtype=self.dtype,
                         remat=self.remat)
    if not c.tie_embeddings:
      self.lm_head = nn.Dense(c.vocab_size, use_bias=False, dtype=self.dtype)

  def encode(self, ids, mask):
    """The encoder's states `(B, S, d_model)`."""
    return self.encoder(self.shared(ids), mask)[0]

  def cross_cache(self, encoded):
    """Each decoder block's cross-attention keys and values."""
    return self.decoder(None, None, encoded, cross_only=True)

  def decode(self, decoder_ids, decoder_mask, encoded, encoded_mask,
             cache=None):
    """The logits `(B, T, V)` (float32), with the cache when given."""
    x, cache = self.decoder(self.shared(decoder_ids), decoder_mask,
                            encoded, encoded_mask, cache)
    if self.cfg.scale_decoder_outputs:
      x = x * (self.cfg.d_model ** -0.5)
    logits = (self.shared.attend(x) if self.cfg.tie_embeddings
              else self.lm_head(x)).astype(jnp.float32)
    return logits if cache is None else (logits, cache)

  def __call__(self, ids, mask, decoder_ids, decoder_mask=None, *,
               train: bool = False):
    """The decoder's logits `(B, T, V)` for `decoder_ids` over the encoded
    `ids`; `train` is accepted for the training loop's calls and changes
    nothing (no dropout)."""
    del train
    if decoder_mask is None:
      decoder_mask = jnp.ones(decoder_ids.shape, bool)
    return self.decode(decoder_ids, decoder_mask, self.encode(ids, mask),
                       mask)


def init_cache(cfg: T5Config, cross: list, batch: int, length: int,
               dtype=jnp.float32) -> dict:
  """A decoder cache of `length` slots around the cross-attention keys and
  values `cross` (`method=cross_cache`)."""
  shape = (batch, length, cfg.num_heads, cfg.d_kv)
  return {"layers": [{"k": jnp.zeros(shape, dtype), "v": jnp.zeros(shape,
                                                                    dtype),
                      "ck": ck, "cv": cv} for ck, cv in cross],
          "mask": jnp.zeros((batch, length), bool),
          "index": jnp.zeros((), jnp.int32)}

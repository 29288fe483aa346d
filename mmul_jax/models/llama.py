"""Decoder-only language models in the Llama layout (Llama 2/3, Qwen2,
Mistral, Phi-3) in Flax under Hugging Face's module names, so a
checkpoint imports by name (`pretrained.llama_weights`): `model.embed_tokens`, per layer
`input_layernorm` (RMSNorm), `self_attn` (`q_proj`, `k_proj`, `v_proj`,
`o_proj`; grouped-query attention; rotary positions), `post_attention_
layernorm`, `mlp` (SwiGLU: `gate_proj`, `up_proj`, `down_proj`), then
`model.norm` and `lm_head` (or the embedding, tied).

One module serves training, scoring and decoding:

* `model.apply(params, tokens, mask)`: the next-token logits `(B, T, V)`
  of a batch (`mask` marks real tokens; padding may sit on either side:
  positions count real tokens only, as `transformers`' `generate` does);
* with `cache=` (`init_cache`), the same for `tokens` appended at the
  cache's `index`, returning `(logits, cache)`: a prompt's prefill and
  each decoding step write their keys and values in place into a cache of
  fixed length, so a decoding loop compiles once (`models.decoding`).

RMSNorm and softmax run in float32 whatever `dtype` the activations use
(as transformers'). `remat` rematerialises each layer in the backward
pass (`jax.checkpoint`), which trades compute for memory and changes no
number. No dropout.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
  """The architecture (`pretrained.llama_weights.model_config` reads it
  from a checkpoint's config.json).

  rope_scaling: () or Llama 3's `("llama3", factor, low_freq_factor,
    high_freq_factor, original_max_position_embeddings)`.
  qkv_bias: the query, key and value projections have biases (Qwen2).
  sliding_window: keys further back than this many positions are not
    attended (Mistral v0.1, Phi-3); 0: none.
  rotary_dim: the leading dimensions of each head that rotate (Phi-3's
    partial rotary factor); 0: all of them.
  """

  vocab_size: int
  hidden_size: int
  intermediate_size: int
  num_layers: int
  num_heads: int
  num_kv_heads: int
  head_dim: int
  max_positions: int = 4096
  rms_eps: float = 1e-6
  rope_theta: float = 10000.0
  rope_scaling: tuple = ()
  tie_embeddings: bool = False
  qkv_bias: bool = False
  sliding_window: int = 0
  rotary_dim: int = 0


def inverse_frequencies(cfg: LlamaConfig) -> jnp.ndarray:
  """RoPE's inverse frequencies (float32), with Llama 3's long-context
  rescaling where the config has it."""
  dim = cfg.rotary_dim or cfg.head_dim
  inv = 1.0 / (cfg.rope_theta ** (jnp.arange(0, dim, 2, dtype=jnp.float32)
                                  / dim))
  if not cfg.rope_scaling:
    return inv
  _, factor, low, high, old_len = cfg.rope_scaling
  wavelen = 2 * math.pi / inv
  scaled = jnp.where(wavelen > old_len / low, inv / factor, inv)
  smooth = (old_len / wavelen - low) / (high - low)
  smoothed = (1 - smooth) * scaled / factor + smooth * scaled
  medium = ~(wavelen < old_len / high) & ~(wavelen > old_len / low)
  return jnp.where(medium, smoothed, scaled)


def rotate(x: jax.Array, positions: jax.Array,
           inv_freq: jax.Array) -> jax.Array:
  """Rotary positions on `x` `(B, T, heads, D)` at `positions` `(B, T)`
  (transformers' rotate-half form) over its first 2 x len(inv_freq)
  dimensions; the rest pass unchanged (a partial rotary factor)."""
  freqs = positions[..., None].astype(jnp.float32) * inv_freq
  emb = jnp.concatenate([freqs, freqs], axis=-1)[:, :, None, :]
  cos, sin = jnp.cos(emb).astype(x.dtype), jnp.sin(emb).astype(x.dtype)
  dim = emb.shape[-1]
  head, rest = x[..., :dim], x[..., dim:]
  half = dim // 2
  rotated = jnp.concatenate([-head[..., half:], head[..., :half]], axis=-1)
  return jnp.concatenate([head * cos + rotated * sin, rest], axis=-1)


def positions_of(mask: jax.Array) -> jax.Array:
  """Each real token's position among its sequence's real tokens (padding
  gets 0, as `generate` gives it 1: it is never attended)."""
  return jnp.maximum(jnp.cumsum(mask.astype(jnp.int32), axis=-1) - 1, 0)


def write_cache(layer_cache: dict, keys: jax.Array, values: jax.Array,
                index) -> dict:
  """`layer_cache` with the new `keys` and `values` `(B, T, heads, D)`
  written in place from slot `index` (its other entries kept)."""
  at = (0, index, 0, 0)
  return {**layer_cache,
          "k": jax.lax.dynamic_update_slice(
              layer_cache["k"], keys.astype(layer_cache["k"].dtype), at),
          "v": jax.lax.dynamic_update_slice(
              layer_cache["v"], values.astype(layer_cache["v"].dtype), at)}


class RMSNorm(nn.Module):
  eps: float = 1e-6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    scale = self.param("scale", nn.initializers.ones, (x.shape[-1],))
    h = x.astype(jnp.float32)
    h = h * jax.lax.rsqrt(jnp.mean(h * h, axis=-1, keepdims=True) + self.eps)
    return scale.astype(self.dtype) * h.astype(self.dtype)


class Attention(nn.Module):
  """Grouped-query self-attention over the new tokens and, with a cache,
  every token written there before."""

  cfg: LlamaConfig
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, positions, keys_ok, layer_cache=None, index=None):
    c = self.cfg
    b, t, _ = x.shape
    dense = lambda n, name, bias: nn.Dense(n, use_bias=bias,
                                           dtype=self.dtype, name=name)
    q = dense(c.num_heads * c.head_dim, "q_proj", c.qkv_bias)(x)
    k = dense(c.num_kv_heads * c.head_dim, "k_proj", c.qkv_bias)(x)
    v = dense(c.num_kv_heads * c.head_dim, "v_proj", c.qkv_bias)(x)
    q = q.reshape(b, t, c.num_heads, c.head_dim)
    k = k.reshape(b, t, c.num_kv_heads, c.head_dim)
    v = v.reshape(b, t, c.num_kv_heads, c.head_dim)
    inv_freq = inverse_frequencies(c)
    q, k = rotate(q, positions, inv_freq), rotate(k, positions, inv_freq)
    if layer_cache is None:
      query_slots = jnp.arange(t)
    else:  # write in place at `index`, attend to the whole cache
      layer_cache = write_cache(layer_cache, k, v, index)
      k, v = layer_cache["k"], layer_cache["v"]
      query_slots = index + jnp.arange(t)
    groups = c.num_heads // c.num_kv_heads
    qg = q.reshape(b, t, c.num_kv_heads, groups, c.head_dim)
    scores = jnp.einsum("btkgd,bskd->bkgts", qg, k.astype(q.dtype))
    scores = scores.astype(jnp.float32) / math.sqrt(c.head_dim)
    slots = jnp.arange(k.shape[1])
    allowed = slots[None, :] <= query_slots[:, None]  # causal, by slot
    allowed = allowed[None] & keys_ok[:, None, :]
    if c.sliding_window:
      # Padding occupies slots but not positions: the window is counted in
      # positions, which real tokens increase one by one.
      kpos = jnp.cumsum(keys_ok.astype(jnp.int32), axis=-1) - 1
      allowed &= (positions[:, :, None] - kpos[:, None, :]) < c.sliding_window
    scores = jnp.where(allowed[:, None, None], scores,
                       jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(scores, axis=-1).astype(self.dtype)
    out = jnp.einsum("bkgts,bskd->btkgd", weights, v.astype(self.dtype))
    out = out.reshape(b, t, c.num_heads * c.head_dim)
    return dense(c.hidden_size, "o_proj", False)(out), layer_cache


class Mlp(nn.Module):
  cfg: LlamaConfig
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    dense = lambda n, name: nn.Dense(n, use_bias=False, dtype=self.dtype,
                                     name=name)
    gate = dense(self.cfg.intermediate_size, "gate_proj")(x)
    up = dense(self.cfg.intermediate_size, "up_proj")(x)
    return dense(self.cfg.hidden_size, "down_proj")(nn.silu(gate) * up)


class DecoderLayer(nn.Module):
  cfg: LlamaConfig
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, positions, keys_ok, layer_cache=None, index=None):
    norm = lambda name: RMSNorm(self.cfg.rms_eps, self.dtype, name=name)
    h, layer_cache = Attention(self.cfg, self.dtype, name="self_attn")(
        norm("input_layernorm")(x), positions, keys_ok, layer_cache, index)
    x = x + h
    x = x + Mlp(self.cfg, self.dtype, name="mlp")(
        norm("post_attention_layernorm")(x))
    return x, layer_cache


class LlamaModel(nn.Module):
  """`model.*`: the embedding, the layers and the final norm."""

  cfg: LlamaConfig
  dtype: Any = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, tokens, mask, cache=None, prefix=None, splice=None):
    c = self.cfg
    embed = nn.Embed(c.vocab_size, c.hidden_size, dtype=self.dtype,
                     name="embed_tokens")
    x = embed(tokens)
    if splice is not None:  # the k-th marked token of a row reads vector k
      vectors, where = splice
      k = jnp.clip(jnp.cumsum(where.astype(jnp.int32), axis=-1) - 1, 0,
                   vectors.shape[1] - 1)
      picked = jnp.take_along_axis(vectors.astype(x.dtype), k[..., None],
                                   axis=1)
      x = jnp.where(where[..., None], picked, x)
    if prefix is not None:  # embeddings `(B, N, D)` before the tokens
      vectors, prefix_mask = prefix
      x = jnp.concatenate([vectors.astype(x.dtype), x], axis=1)
      mask = jnp.concatenate([prefix_mask, mask], axis=1)
    if cache is None:
      positions, keys_ok, index = positions_of(mask), mask, None
    else:
      index = cache["index"]
      keys_ok = jax.lax.dynamic_update_slice(cache["mask"], mask,
                                             (0, index))
      # A new token's position: the real tokens before it in the cache.
      before = jnp.sum(cache["mask"].astype(jnp.int32), axis=-1,
                       keepdims=True)
      positions = before + positions_of(mask)
    layer_cls = nn.remat(DecoderLayer) if self.remat else DecoderLayer
    new_layers, states = [], [x]
    for i in range(c.num_layers):
      layer_cache = None if cache is None else cache["layers"][i]
      x, layer_cache = layer_cls(c, self.dtype, name=f"layers_{i}")(
          x, positions, keys_ok, layer_cache, index)
      new_layers.append(layer_cache)
      states.append(x)
    x = RMSNorm(c.rms_eps, self.dtype, name="norm")(x)
    new_cache = None
    if cache is not None:
      new_cache = {"layers": new_layers, "mask": keys_ok,
                   "index": index + x.shape[1]}
    return x, new_cache, embed, states


class LlamaForCausalLM(nn.Module):
  """`model` and `lm_head` (the embedding's transpose when tied)."""

  cfg: LlamaConfig
  dtype: Any = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, tokens, mask=None, cache=None, *, hidden=False,
               train: bool = False, prefix=None, splice=None):
    """The logits `(B, T, V)` (float32), with the updated cache when one is
    given; `hidden=True` adds the final normed states `(B, T, D)`, and
    `hidden=k` (an int, 1 ≤ k ≤ layers) the residual stream after layer k
    instead (transformers' `hidden_states[k]`: what RMU steers). `train`
    is accepted for the training loop's calls and changes nothing (no
    dropout). `prefix`: `(vectors (B, N, D), mask (B, N))` read before
    the tokens (a vision-language model's image tokens, `models.llava`);
    the outputs cover the tokens only, the cache holds both. `splice`:
    `(vectors (B, N, D), where (B, T))`, the embeddings the marked tokens
    read instead of their own, in order (LLaVA-1.5's `<image>`
    placeholders): a row marks N tokens or none."""
    del train
    if mask is None:
      mask = jnp.ones(tokens.shape, bool)
    x, new_cache, embed, states = LlamaModel(
        self.cfg, self.dtype, self.remat, name="model")(tokens, mask, cache,
                                                        prefix, splice)
    if prefix is not None:
      n = prefix[0].shape[1]
      x, states = x[:, n:], [h[:, n:] for h in states]
    if self.cfg.tie_embeddings:
      logits = embed.attend(x)
    else:
      logits = nn.Dense(self.cfg.vocab_size, use_bias=False,
                        dtype=self.dtype, name="lm_head")(x)
    logits = logits.astype(jnp.float32)
    if hidden is not False and not isinstance(hidden, bool):
      if not 1 <= hidden <= self.cfg.num_layers:
        raise ValueError(f"hidden={hidden}: a layer in 1..{self.cfg.num_layers}")
      x = states[hidden]
    out = (logits, x) if hidden is not False else logits
    return out if cache is None else (out, new_cache)


def init_cache(cfg: LlamaConfig, batch: int, length: int,
               dtype=jnp.float32) -> dict:
  """An empty cache of `length` slots: per layer the keys and values
  `(B, length, kv_heads, D)`, which slots hold real tokens, and the next
  free slot."""
  shape = (batch, length, cfg.num_kv_heads, cfg.head_dim)
  return {"layers": [{"k": jnp.zeros(shape, dtype),
                      "v": jnp.zeros(shape, dtype)}
                     for _ in range(cfg.num_layers)],
          "mask": jnp.zeros((batch, length), bool),
          "index": jnp.zeros((), jnp.int32)}

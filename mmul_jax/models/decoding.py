"""Text generation with a key-value cache, compiled once per batch shape:
decoder-only models (`generate`) and encoder-decoders (`generate_seq2seq`).

The cache has a fixed length (prompt + `max_new_tokens` slots,
`llama.init_cache`), the prompt fills it in one pass (prefill), and a
`lax.fori_loop` appends one token per step, so neither the prompt's
padding nor the stopping point changes a shape. Prompts may be padded on
either side (`mask`); positions count real tokens only. Greedy decoding
takes the argmax; sampling draws from softmax(logits / temperature),
over the `top_k` most likely tokens when set, with the step's key folded
from `rng`. A sequence that emits a stop token is finished: later slots
hold `pad_id`, and `lengths` counts its tokens, the stop token included.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from mmul_jax.models import llama
from mmul_jax.models import t5


def _pick(logits, key, temperature: float, top_k: int):
  if temperature <= 0:
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)
  logits = logits / temperature
  if top_k:
    kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
    logits = jnp.where(logits < kth, -jnp.inf, logits)
  return jax.random.categorical(key, logits).astype(jnp.int32)


def _decode(step, logits, cache, rng, *, batch: int, max_new_tokens: int,
            temperature: float, top_k: int, stop_ids, pad_id: int):
  """The decoding loop: pick a token from `logits`, record it, feed it
  (`step(tokens (B, 1), cache) -> (logits (B, V), cache)`)."""
  stops = jnp.asarray(stop_ids or (-1,), jnp.int32)

  def body(t, carry):
    logits, cache, out, done, lengths = carry
    token = _pick(logits, jax.random.fold_in(rng, t), temperature, top_k)
    token = jnp.where(done, pad_id, token)
    out = out.at[:, t].set(token)
    lengths = lengths + (~done).astype(jnp.int32)
    done = done | jnp.isin(token, stops)
    logits, cache = step(token[:, None], cache)
    return logits, cache, out, done, lengths

  carry = (logits, cache,
           jnp.full((batch, max_new_tokens), pad_id, jnp.int32),
           jnp.zeros((batch,), bool), jnp.zeros((batch,), jnp.int32))
  _, _, out, _, lengths = jax.lax.fori_loop(0, max_new_tokens, body, carry)
  return out, lengths


_STATIC = ("model", "max_new_tokens", "temperature", "top_k", "stop_ids",
           "pad_id")


@functools.partial(jax.jit, static_argnames=_STATIC)
def generate(model: llama.LlamaForCausalLM, params, prompt: jax.Array,
             mask: jax.Array, rng: jax.Array | None = None, *,
             max_new_tokens: int, temperature: float = 0.0, top_k: int = 0,
             stop_ids: tuple[int, ...] = (), pad_id: int = 0, images=None,
             image_mask=None):
  """`(tokens (B, max_new_tokens) int32, lengths (B,))` continuing each
  prompt `(B, P)` whose real tokens `mask` marks; for a vision-language
  model (`models.llava`) after its `images` (`image_mask`: which rows
  have one), whose tokens the prefill writes into the cache first."""
  b, p = prompt.shape
  extra = () if images is None else (images, image_mask)
  room = p + max_new_tokens + (model.num_prefix_tokens if extra else 0)
  cache = llama.init_cache(model.cfg, b, room, jnp.dtype(model.dtype))
  logits, cache = model.apply(params, prompt, mask, cache, *extra)
  # The logits after each prompt's last real token (its padding may follow).
  last = jnp.max(jnp.where(mask, jnp.arange(p), -1), axis=-1)

  def step(token, cache):
    logits, cache = model.apply(params, token, jnp.ones((b, 1), bool),
                                cache)
    return logits[:, 0], cache

  return _decode(step, logits[jnp.arange(b), last], cache,
                 jax.random.PRNGKey(0) if rng is None else rng, batch=b,
                 max_new_tokens=max_new_tokens, temperature=temperature,
                 top_k=top_k, stop_ids=stop_ids, pad_id=pad_id)


@functools.partial(jax.jit, static_argnames=_STATIC)
def generate_seq2seq(model: t5.T5ForConditionalGeneration, params,
                     source: jax.Array, mask: jax.Array,
                     rng: jax.Array | None = None, *, max_new_tokens: int,
                     temperature: float = 0.0, top_k: int = 0,
                     stop_ids: tuple[int, ...] = (), pad_id: int = 0):
  """An encoder-decoder's output for each source `(B, S)` (real tokens
  `mask`): encoded once, its cross-attention keys and values computed
  once, the decoder started from `decoder_start_id` with a cache of
  `max_new_tokens` + 1 slots (the start token first). Returns `(tokens,
  lengths)` as `generate`."""
  b = source.shape[0]
  encoded = model.apply(params, source, mask, method=model.encode)
  cross = model.apply(params, encoded, method=model.cross_cache)
  cache = t5.init_cache(model.cfg, cross, b, max_new_tokens + 1,
                        jnp.dtype(model.dtype))
  ones = jnp.ones((b, 1), bool)

  def step(token, cache):
    logits, cache = model.apply(params, token, ones, encoded, mask, cache,
                                method=model.decode)
    return logits[:, 0], cache

  start = jnp.full((b, 1), model.cfg.decoder_start_id, jnp.int32)
  logits, cache = step(start, cache)
  return _decode(step, logits, cache,
                 jax.random.PRNGKey(0) if rng is None else rng, batch=b,
                 max_new_tokens=max_new_tokens, temperature=temperature,
                 top_k=top_k, stop_ids=stop_ids, pad_id=pad_id)


def generate_text(model, params, tokenizer, prompts: list[str], *,
                  max_new_tokens: int, stop: tuple[str, ...] | None = None,
                  temperature: float = 0.0, top_k: int = 0,
                  rng: jax.Array | None = None, bucket: int = 16
                  ) -> list[str]:
  """Each prompt's continuation as text: tokenised by `tokenizer` (a
  `tokenizers.Tokenizer`, e.g. `tokenizer.from_checkpoint`'s; its own
  padding and truncation are ignored), left-padded to a multiple of
  `bucket` tokens (so a handful of shapes compile), decoded with the
  cache (`generate`, or `generate_seq2seq` for an encoder-decoder) until
  a `stop` token (default: the tokenizer's end of text), and detokenised
  without special tokens."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tokenizers  # pylint: disable=g-import-not-at-top
  from mmul_jax.data.core import tokenizer as tokenizer_lib  # pylint: disable=g-import-not-at-top
  tok = tokenizers.Tokenizer.from_str(tokenizer.to_str())
  tok.no_padding()
  tok.no_truncation()
  ids = [e.ids for e in tok.encode_batch(list(prompts))]
  length = -(-max(len(i) for i in ids) // bucket) * bucket
  pad = (tokenizer.padding or {}).get("pad_id", 0)
  prompt = np.full((len(ids), length), pad, np.int32)
  mask = np.zeros((len(ids), length), bool)
  for row, i in enumerate(ids):
    prompt[row, length - len(i):] = i
    mask[row, length - len(i):] = True
  if stop is None:
    end = tokenizer_lib.eot_id(tok)
    stop_ids = () if end is None else (end,)
  else:
    stop_ids = tuple(tok.token_to_id(s) for s in stop
                     if tok.token_to_id(s) is not None)
  run = (generate_seq2seq if isinstance(model, t5.T5ForConditionalGeneration)
         else generate)
  out, lengths = run(model, params, jnp.asarray(prompt), jnp.asarray(mask),
                     rng, max_new_tokens=max_new_tokens,
                     temperature=temperature, top_k=top_k,
                     stop_ids=stop_ids, pad_id=pad)
  out, lengths = np.asarray(out), np.asarray(lengths)
  texts = []
  for row, n in zip(out, lengths):
    kept = [int(t) for t in row[:n] if int(t) not in stop_ids]
    texts.append(tok.decode(kept, skip_special_tokens=True))
  return texts

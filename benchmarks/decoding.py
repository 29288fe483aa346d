"""Greedy decoding speed of the language models on this machine's CPU:
with the key-value cache (`models.decoding.generate` / `generate_seq2seq`)
and without it (the whole fixed-length sequence run again at every step,
compiled once), here and with transformers' `generate` (cache on and off)
on the same random model, in tokens per second and as ratios from one run.

  pip install torch==2.13.0 && pip install -e '.[torch]'
  python benchmarks/decoding.py [--arch=llama|t5] [--batch=4] [--prompt=32]
      [--new=64] [--width=256] [--layers=4] [--repeats=3]

The model is a random `LlamaForCausalLM` (grouped-query attention, vocab
2,048) or `T5ForConditionalGeneration` (flan-t5's layout: gated GELU, its
own head) saved by transformers and imported here, so both sides compute
the same tokens (checked; for T5 the prompt is the source). JAX's times exclude compilation (one warm-up call);
each figure is the best of `--repeats`. Run it with nothing else on the
machine: the ratios are what to read, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def _best(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return min(times)


def _llama(args, rng):
  """`(transformers' model, cached decoding, decoding without a cache,
  the prompts)` for the Llama layout."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  from mmul_jax.models import decoding  # pylint: disable=g-import-not-at-top
  from mmul_jax.pretrained import llama_weights  # pylint: disable=g-import-not-at-top
  config = transformers.LlamaConfig(
      vocab_size=2048, hidden_size=args.width,
      intermediate_size=int(2.75 * args.width), num_hidden_layers=args.layers,
      num_attention_heads=8, num_key_value_heads=2,
      max_position_embeddings=args.prompt + args.new)
  hf = transformers.LlamaForCausalLM(config).eval()
  with tempfile.TemporaryDirectory() as directory:
    hf.save_pretrained(directory)
    module, params = llama_weights.load(directory)
  b, p, n = args.batch, args.prompt, args.new
  prompt = rng.integers(3, 2048, size=(b, p))
  jp = jnp.asarray(prompt, jnp.int32)
  jm = jnp.ones((b, p), bool)

  def cached():
    return jax.block_until_ready(decoding.generate(
        module, params, jp, jm, max_new_tokens=n)[0])

  @jax.jit
  def recompute(params):
    """Greedy without a cache: the whole (P + N)-slot sequence again at
    each step, later slots masked, so one compiled step serves all."""
    seq = jnp.concatenate([jp, jnp.zeros((b, n), jnp.int32)], 1)
    msk = jnp.concatenate([jm, jnp.zeros((b, n), bool)], 1)

    def step(t, carry):
      seq, msk = carry
      logits = module.apply(params, seq, msk)
      token = jnp.argmax(logits[:, p + t - 1], -1).astype(jnp.int32)
      return seq.at[:, p + t].set(token), msk.at[:, p + t].set(True)

    return jax.lax.fori_loop(0, n, step, (seq, msk))[0][:, p:]

  return hf, cached, lambda: jax.block_until_ready(recompute(params)), \
      prompt


def _t5(args, rng):
  """The same for a T5 encoder-decoder (flan-t5's layout)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  from mmul_jax.models import decoding  # pylint: disable=g-import-not-at-top
  from mmul_jax.pretrained import t5_weights  # pylint: disable=g-import-not-at-top
  config = transformers.T5Config(
      vocab_size=2048, d_model=args.width, d_kv=args.width // 8,
      d_ff=int(2.75 * args.width), num_layers=args.layers, num_heads=8,
      feed_forward_proj="gated-gelu", tie_word_embeddings=False,
      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
  hf = transformers.T5ForConditionalGeneration(config).eval()
  with tempfile.TemporaryDirectory() as directory:
    hf.save_pretrained(directory)
    module, params = t5_weights.load(directory)
  b, p, n = args.batch, args.prompt, args.new
  source = rng.integers(3, 2048, size=(b, p))
  js = jnp.asarray(source, jnp.int32)
  jm = jnp.ones((b, p), bool)

  def cached():
    return jax.block_until_ready(decoding.generate_seq2seq(
        module, params, js, jm, max_new_tokens=n)[0])

  @jax.jit
  def recompute(params):
    """Greedy without a cache: encoded once, the whole (1 + N)-token
    decoder input again at each step, later slots masked."""
    encoded = module.apply(params, js, jm, method=module.encode)
    seq = jnp.zeros((b, n + 1), jnp.int32)
    msk = jnp.zeros((b, n + 1), bool).at[:, 0].set(True)

    def step(t, carry):
      seq, msk = carry
      logits = module.apply(params, seq, msk, encoded, jm,
                            method=module.decode)
      token = jnp.argmax(logits[:, t], -1).astype(jnp.int32)
      return seq.at[:, t + 1].set(token), msk.at[:, t + 1].set(True)

    return jax.lax.fori_loop(0, n, step, (seq, msk))[0][:, 1:]

  return hf, cached, lambda: jax.block_until_ready(recompute(params)), \
      source


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--arch", choices=("llama", "t5"), default="llama")
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--prompt", type=int, default=32)
  parser.add_argument("--new", type=int, default=64)
  parser.add_argument("--width", type=int, default=256)
  parser.add_argument("--layers", type=int, default=4)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()

  import torch  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  torch.set_num_threads(os.cpu_count() or 1)
  rng = np.random.default_rng(0)
  hf, cached, uncached, prompt = (_llama if args.arch == "llama"
                                  else _t5)(args, rng)
  b, n = args.batch, args.new
  ours, again = np.asarray(cached()), np.asarray(uncached())

  def hf_generate(use_cache):
    with torch.no_grad():
      return hf.generate(input_ids=torch.tensor(prompt),
                         attention_mask=torch.ones(prompt.shape,
                                                   dtype=torch.long),
                         max_new_tokens=n, min_new_tokens=n,
                         do_sample=False, use_cache=use_cache,
                         eos_token_id=None, pad_token_id=0
                         )[:, -n:].numpy()

  theirs = hf_generate(True)
  same = (ours == theirs).mean()
  assert (ours == again).all(), "cached and recomputed decoding differ"
  times = {"jax cache": _best(cached, args.repeats),
           "jax no cache": _best(uncached, args.repeats),
           "torch cache": _best(lambda: hf_generate(True), args.repeats),
           "torch no cache": _best(lambda: hf_generate(False),
                                   args.repeats)}
  tokens = b * n
  print(f"{args.arch}, width {args.width}, {args.layers} layers, batch {b},"
        f" prompt {args.prompt}, {n} new tokens; same tokens as "
        f"transformers: {100 * same:.0f}%")
  for name, seconds in times.items():
    print(f"  {name:15s} {tokens / seconds:9.0f} tokens/s  ({seconds:.3f} s)")
  print(f"  ratios: JAX cache / no cache "
        f"{times['jax no cache'] / times['jax cache']:.2f}x faster; JAX "
        f"cache vs transformers cache "
        f"{times['torch cache'] / times['jax cache']:.2f}x (>1: JAX "
        f"faster); transformers cache / no cache "
        f"{times['torch no cache'] / times['torch cache']:.2f}x")


if __name__ == "__main__":
  main()

"""Greedy decoding speed of the Llama-layout decoder on this machine's CPU:
with the key-value cache (`models.decoding.generate`) and without it (the
whole fixed-length sequence run again at every step, compiled once),
here and with transformers' `generate` (cache on and off) on the same
random model, in tokens per second and as ratios from one run.

  pip install torch==2.13.0 && pip install -e '.[torch]'
  python benchmarks/decoding.py [--batch=4] [--prompt=32] [--new=64]
      [--width=256] [--layers=4] [--repeats=3]

The model is a random `LlamaForCausalLM` (grouped-query attention, vocab
2,048) saved by transformers and imported here, so both sides compute the
same tokens (checked). JAX's times exclude compilation (one warm-up call);
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


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--prompt", type=int, default=32)
  parser.add_argument("--new", type=int, default=64)
  parser.add_argument("--width", type=int, default=256)
  parser.add_argument("--layers", type=int, default=4)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()

  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from mmul_jax.models import decoding  # pylint: disable=g-import-not-at-top
  from mmul_jax.pretrained import llama_weights  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)
  torch.set_num_threads(os.cpu_count() or 1)
  config = transformers.LlamaConfig(
      vocab_size=2048, hidden_size=args.width,
      intermediate_size=int(2.75 * args.width), num_hidden_layers=args.layers,
      num_attention_heads=8, num_key_value_heads=2,
      max_position_embeddings=args.prompt + args.new)
  hf = transformers.LlamaForCausalLM(config).eval()
  rng = np.random.default_rng(0)
  prompt = rng.integers(3, 2048, size=(args.batch, args.prompt))
  mask = np.ones_like(prompt)
  with tempfile.TemporaryDirectory() as directory:
    hf.save_pretrained(directory)
    module, params = llama_weights.load(directory)

  b, p, n = args.batch, args.prompt, args.new
  jp, jm = jnp.asarray(prompt, jnp.int32), jnp.asarray(mask, bool)

  def cached():
    return jax.block_until_ready(decoding.generate(
        module, params, jp, jm, max_new_tokens=n)[0])

  @jax.jit
  def recompute(params, prompt, mask):
    """Greedy without a cache: the whole (P + N)-slot sequence again at
    each step, later slots masked, so one compiled step serves all."""
    seq = jnp.concatenate([prompt, jnp.zeros((b, n), jnp.int32)], 1)
    msk = jnp.concatenate([mask, jnp.zeros((b, n), bool)], 1)

    def step(t, carry):
      seq, msk = carry
      logits = module.apply(params, seq, msk)
      token = jnp.argmax(logits[:, p + t - 1], -1).astype(jnp.int32)
      return seq.at[:, p + t].set(token), msk.at[:, p + t].set(True)

    return jax.lax.fori_loop(0, n, step, (seq, msk))[0][:, p:]

  def uncached():
    return jax.block_until_ready(recompute(params, jp, jm))

  ours, again = np.asarray(cached()), np.asarray(uncached())
  with torch.no_grad():
    def hf_generate(use_cache):
      return hf.generate(input_ids=torch.tensor(prompt),
                         attention_mask=torch.tensor(mask),
                         max_new_tokens=n, min_new_tokens=n,
                         do_sample=False, use_cache=use_cache,
                         eos_token_id=None, pad_token_id=0)[:, p:].numpy()
    theirs = hf_generate(True)
  same = (ours == theirs).mean()
  assert (ours == again).all(), "cached and recomputed decoding differ"

  times = {"jax cache": _best(cached, args.repeats),
           "jax no cache": _best(uncached, args.repeats)}
  with torch.no_grad():
    times["torch cache"] = _best(lambda: hf_generate(True), args.repeats)
    times["torch no cache"] = _best(lambda: hf_generate(False),
                                    args.repeats)
  tokens = b * n
  print(f"Llama layout, width {args.width}, {args.layers} layers, batch {b},"
        f" prompt {p}, {n} new tokens; same tokens as transformers: "
        f"{100 * same:.0f}%")
  for name, seconds in times.items():
    print(f"  {name:15s} {tokens / seconds:9.0f} tokens/s  ({seconds:.3f} s)")
  print(f"  ratios: JAX cache / no cache {times['jax no cache'] / times['jax cache']:.2f}x faster; "
        f"JAX cache vs transformers cache {times['torch cache'] / times['jax cache']:.2f}x "
        f"(>1: JAX faster); transformers cache / no cache "
        f"{times['torch no cache'] / times['torch cache']:.2f}x")


if __name__ == "__main__":
  main()

"""Does a 7B-class language model's unlearning step fit one 80 GB
accelerator? XLA's buffer assignment for the compiled step, from shapes
alone (nothing is allocated, so this runs on a CPU machine).

  python benchmarks/llm_memory.py [--model=llama2_7b] [--batch=4]
      [--length=320]

The step is what `unlearn.lora_rank` and `model.remat` run for NPO with
a retain loss (`configs/text_generation.py`): the LoRA-adapted model
(rank 8 on q_proj and v_proj, as MU-Bench's TOFU recipe) on a Df batch
and a Dr batch, the frozen original on the Df batch (NPO's reference),
gradients for the adapters only and an AdamW update, in bfloat16 with
float32 optimiser state. For each of: remat off / on, LoRA / every weight,
it prints the arguments (parameters, adapters, optimiser state, batch),
the temporaries XLA assigns (activations kept for the backward pass and
scratch) and their sum in GiB.

These are XLA's CPU buffer assignment; a GPU or TPU compile assigns
buffers differently (other fusions), so read them as an estimate, not a
measurement on the device: say so beside any number quoted.
"""

import argparse
import functools

import jax
import jax.numpy as jnp
import optax

from mmul_jax import lora
from mmul_jax import losses
from mmul_jax.models import llama

MODELS = {
    "llama2_7b": llama.LlamaConfig(
        vocab_size=32000, hidden_size=4096, intermediate_size=11008,
        num_layers=32, num_heads=32, num_kv_heads=32, head_dim=128),
    "llama3_8b": llama.LlamaConfig(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336,
        num_layers=32, num_heads=32, num_kv_heads=8, head_dim=128,
        rope_theta=500000.0),
    "tiny": llama.LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_layers=2,
        num_heads=4, num_kv_heads=2, head_dim=16),
}
GIB = 1024 ** 3


def step_memory(cfg: llama.LlamaConfig, *, remat: bool, use_lora: bool,
                batch: int, length: int) -> dict:
  """XLA's argument and temporary bytes of one unlearning step."""
  model = llama.LlamaForCausalLM(cfg, dtype=jnp.bfloat16, remat=remat)
  tokens = jax.ShapeDtypeStruct((batch, length), jnp.int32)
  shapes = jax.eval_shape(
      lambda: jax.tree.map(lambda x: x.astype(jnp.bfloat16), model.init(
          jax.random.key(0), jnp.zeros((1, 8), jnp.int32))))
  opt = optax.adamw(1e-5)
  answer = length // 2

  def nll(params, toks):
    logits = model.apply(params, toks)[:, -answer - 1:-1]
    return losses.sequence_nll(logits, toks[:, -answer:],
                               jnp.ones((batch, answer), bool),
                               reduction="sum")

  def loss(trained, base, df, dr):
    params = (lora.merge(base, trained, alpha=32.0) if use_lora
              else trained)
    reference = jax.lax.stop_gradient(nll(base, df))
    forget = losses.sequence_npo(nll(params, df), reference, beta=0.1)
    return jnp.mean(forget) + jnp.mean(nll(params, dr)) / answer

  def step(trained, opt_state, base, df, dr):
    grads = jax.grad(loss)(trained, base, df, dr)
    updates, opt_state = opt.update(grads, opt_state, trained)
    return optax.apply_updates(trained, updates), opt_state

  if use_lora:
    trained = jax.eval_shape(functools.partial(
        lora.init, rank=8, targets=("q_proj", "v_proj")), shapes,
        rng=jax.random.key(0))
  else:
    trained = shapes
  opt_state = jax.eval_shape(opt.init, trained)
  compiled = jax.jit(step, donate_argnums=(0, 1)).lower(
      trained, opt_state, shapes, tokens, tokens).compile()
  m = compiled.memory_analysis()
  return {"arguments": m.argument_size_in_bytes / GIB,
          "temporaries": m.temp_size_in_bytes / GIB,
          "total": (m.argument_size_in_bytes + m.temp_size_in_bytes
                    + m.output_size_in_bytes - m.alias_size_in_bytes) / GIB}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--model", default="llama2_7b", choices=sorted(MODELS))
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--length", type=int, default=320)
  args = parser.parse_args()
  cfg = MODELS[args.model]
  print(f"{args.model}: Df and Dr batches of {args.batch} x {args.length} "
        "tokens, bfloat16, AdamW; XLA CPU buffer assignment (an estimate)")
  print("| weights trained | remat | arguments GiB | temporaries GiB | "
        "total GiB | fits 80 GB |")
  print("|---|---|---|---|---|---|")
  for use_lora in (True, False):
    for remat in (False, True):
      m = step_memory(cfg, remat=remat, use_lora=use_lora,
                      batch=args.batch, length=args.length)
      print(f"| {'LoRA r8 q,v' if use_lora else 'every weight'} | "
            f"{'on' if remat else 'off'} | {m['arguments']:.1f} | "
            f"{m['temporaries']:.1f} | {m['total']:.1f} | "
            f"{'yes' if m['total'] * GIB < 80e9 else 'no'} |", flush=True)


if __name__ == "__main__":
  main()

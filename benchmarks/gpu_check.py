"""The MMUL unlearning step on CLIP ViT-B/16 or BLIP base in bfloat16 on
one accelerator: examples per second, step time and model FLOPs
utilisation.

  python benchmarks/gpu_check.py [--model=clip] [--preset=vit_b16]
                                 [--steps=20] [--batch=0] [--fill=0.7]

`benchmarks/gpu_check.sh` installs the CUDA build of JAX and runs this. The
model is the `vit_b16` preset (OpenAI CLIP's shapes with the 6-layer fusion
encoder), random weights (speed does not depend on them), computing in
bfloat16 with float32 parameters and AdamW moments; the step is the one
`scripts/unlearn.py` runs for `method.name=mmul` (MD + UKR + MKR with the
frozen original), jitted once, state donated. `--model=blip` runs the
same step on BLIP base's retrieval model (`recipes.BLIP_BASE`: ViT-B/16
at 384 pixels, BERT-base text encoder whose layers cross-attend for the
matching pass), the paper's model.

Batch: with `--batch=0` the script compiles the step once at a small probe
batch, reads the compiled program's memory analysis (arguments, outputs,
temporaries) and picks the largest Df + Dr batch (Df:Dr = 1:2, as in the
recipes) whose estimate stays under `--fill` of the device's memory. The
estimate is linear in the batch, with everything but the temporaries fixed,
so it errs towards a smaller batch.

FLOPs come from the compiled HLO's cost analysis: every multiply-add of the
step as XLA runs it (the frozen model's forwards, the backward pass, the
optimizer), not a 6ND formula. Custom calls (a cuDNN attention kernel, if
XLA picks one) are not counted there, so the utilisation is then a lower
bound; the script says how many custom calls the program has. The peak is
the dense bfloat16 figure of the device named in `PEAK_BF16`; an unknown
device prints the FLOPs per step and no utilisation.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

# Dense (no sparsity) bfloat16 tensor-core peaks, FLOP/s, from the vendors'
# data sheets; matched against `device_kind` in this order.
PEAK_BF16 = (
    ("H200", 989e12), ("GH200", 989e12), ("H100 PCIe", 756e12),
    ("H100", 989e12), ("H800", 989e12), ("B200", 2250e12),
    ("A100", 312e12), ("A800", 312e12), ("L40S", 362e12), ("L40", 181e12),
    ("L4", 121e12), ("A10G", 70e12), ("A10", 125e12), ("RTX 4090", 165e12),
    ("TPU v6", 918e12), ("TPU v5p", 459e12), ("TPU v5", 197e12),
    ("TPU v4", 275e12),
)


def peak_flops(device_kind: str) -> float | None:
  """The dense bfloat16 peak of a device by name, or None if unknown."""
  for name, flops in PEAK_BF16:
    if name.lower() in device_kind.lower():
      return flops
  return None


def cost(compiled) -> tuple[float, int]:
  """(FLOPs of one step from the HLO cost analysis, custom calls in it)."""
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older jax: one dict per device
    analysis = analysis[0]
  customs = len(re.findall(r"custom-call\(", compiled.as_text()))
  return float(analysis.get("flops", 0.0)), customs


def build(c, df: int, dr: int):
  """(compiled step, state, frozen, batches, compile seconds) for batch
  Df `df` + Dr `dr`."""
  from mmul_jax.training import sharding
  c.unlearn.df_batch_size, c.unlearn.dr_batch_size = df, dr
  mesh = sharding.make_mesh(1)
  step, state, frozen = _common.mmul_step(c, mesh)
  batches = [sharding.shard_batch(b, mesh)
             for b in _common.unlearning_batches(c, 2)]
  t0 = time.perf_counter()
  compiled = step.lower(state, batches[0], frozen).compile()
  return compiled, state, frozen, batches, time.perf_counter() - t0


def memory_bytes(compiled) -> tuple[int, int]:
  """(fixed bytes: arguments + outputs - aliased, temporary bytes)."""
  m = compiled.memory_analysis()
  fixed = (m.argument_size_in_bytes + m.output_size_in_bytes
           - m.alias_size_in_bytes)
  return fixed, m.temp_size_in_bytes


def batch_for(limit: float, fill: float, fixed: float, temp: float,
              probe: int) -> int:
  """The largest Df batch (a multiple of 8, at least 8) whose linear
  estimate `fixed + temp / probe * df` stays under `fill * limit`: all the
  temporaries are counted per example (each Df example brings its two Dr
  examples), so the estimate errs towards a smaller batch."""
  df = int((fill * limit - fixed) // (temp / probe))
  return max(8, df // 8 * 8)


def pick_batch(c, fill: float, probe: int = 8) -> tuple[int, str]:
  """(Df batch, how it was chosen): the largest that fits `fill` of the
  device's memory by the probe compile's linear estimate."""
  import jax
  stats = jax.devices()[0].memory_stats() or {}
  limit = stats.get("bytes_limit")
  if not limit:
    return 16, "device reports no memory limit: Df 16"
  compiled, *_ = build(c, probe, 2 * probe)
  fixed, temp = memory_bytes(compiled)
  df = batch_for(limit, fill, fixed, temp, probe)
  per_df = temp / probe
  return df, (f"probe Df {probe}: fixed {fixed / 2**30:.2f} GiB, "
              f"{per_df / 2**20:.1f} MiB per Df example (with its 2 Dr); "
              f"{fill:.0%} of {limit / 2**30:.1f} GiB gives Df {df}")


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--model", default="clip", choices=("clip", "blip"))
  parser.add_argument("--preset", default="vit_b16",
                      help="--model=clip: the CLIP size preset")
  parser.add_argument("--dtype", default="bfloat16")
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--batch", type=int, default=0,
                      help="Df batch (Dr is twice it); 0 fills the device")
  parser.add_argument("--fill", type=float, default=0.7,
                      help="fraction of device memory the batch may use")
  args = parser.parse_args()
  import jax
  from mmul_jax.models import presets
  c = _common.demo_config()
  if args.model == "blip":
    from mmul_jax import recipes
    c.model.arch = "blip"
    c.model.update(recipes.BLIP_BASE)
    name = "BLIP base (ITR)"
  else:
    c.model.update(presets.preset(args.preset))
    name = f"CLIP {args.preset}"
  c.model.dtype = args.dtype
  device = jax.devices()[0]
  print(f"device: {device.platform} {device.device_kind}; jax "
        f"{jax.__version__}; model {name} in {args.dtype}")
  if args.batch:
    df, why = args.batch, "set by --batch"
  else:
    t0 = time.perf_counter()
    df, why = pick_batch(c, args.fill)
    why += f" ({time.perf_counter() - t0:.0f} s)"
  print(f"batch: Df {df} + Dr {2 * df} ({why})")
  compiled, state, frozen, batches, compile_s = build(c, df, 2 * df)
  flops, customs = cost(compiled)
  fixed, temp = memory_bytes(compiled)
  print(f"compiled in {compile_s:.1f} s; {flops / 1e12:.2f} TFLOP per step "
        f"(HLO cost analysis, {customs} custom calls not counted); memory "
        f"{(fixed + temp) / 2**30:.1f} GiB")
  for i in range(2):  # warm-up: first executions allocate and autotune
    state, m = compiled(state, batches[i % 2], frozen)
  jax.block_until_ready(m)
  t0 = time.perf_counter()
  for i in range(args.steps):
    state, m = compiled(state, batches[i % 2], frozen)
  jax.block_until_ready(m)
  step_s = (time.perf_counter() - t0) / args.steps
  examples = 3 * df / step_s
  print(f"step: {step_s * 1e3:.1f} ms; {examples:.0f} examples/s "
        f"(loss {float(m['loss']):.4g})")
  peak = peak_flops(device.device_kind)
  if peak is None:
    print(f"MFU: unknown peak for {device.device_kind!r} "
          f"({flops / step_s / 1e12:.2f} TFLOP/s achieved)")
  else:
    print(f"MFU: {flops / step_s / peak:.1%} ({flops / step_s / 1e12:.1f} "
          f"of {peak / 1e12:.0f} TFLOP/s dense bf16)")


if __name__ == "__main__":
  main()

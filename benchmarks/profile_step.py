"""Where the JAX MMUL step's time goes on this machine: a `jax.profiler`
trace of a few steps, summed by kind of XLA operation.

  python benchmarks/profile_step.py [--steps=10] [--width=64] [--layers=2]
                                    [--trace_dir=/tmp/mmul_profile]

The same step and sizes as `benchmarks/vs_pytorch.py`. The trace (open it
in Perfetto or TensorBoard's profile plugin) is kept in TRACE_DIR; the
script reads its Perfetto JSON and prints, per kind of operation (matrix
products, fused elementwise kernels, copies and transposes, reductions,
...), the time summed over threads and its share, and how much of the
wall time had no XLA operation running on any thread (dispatch,
synchronisation, waiting on the host).
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

# An HLO instruction's name starts with its opcode ("dot.12", "fusion.3")
# or says what XLA fused into it ("copy_transpose_fusion.4"); "ynn_fusion"
# is a matrix product (with the elementwise work around it) handed to
# YNNPACK, XLA CPU's default kernel library for dots.
KINDS = (("matmul (YNNPACK)", r"^ynn_fusion"),
         ("matmul (XLA dot)", r"^(dot|.*gemm|.*matmul)"),
         ("convolution", r"^conv"),
         ("copy / transpose", r"^(copy|transpose|.*transpose|bitcast_copy)"),
         ("reduction", r"^(reduce|.*reduce)"),
         ("elementwise fusion", r"^.*fusion"),
         ("other", r""))


def kind_of(name: str) -> str:
  for kind, pattern in KINDS:
    if re.match(pattern, name):
      return kind
  return "other"


def summarise(trace: dict) -> tuple[dict, float, float]:
  """({kind: summed seconds}, busy seconds on any thread, span seconds,
  number of operations) of the XLA operations in a Perfetto trace."""
  events = [e for e in trace.get("traceEvents", [])
            if e.get("ph") == "X" and "dur" in e]
  # XLA's thunk executor tags each operation it runs with its HLO name.
  ops = [e for e in events if "hlo_op" in e.get("args", {})]
  per_kind = collections.Counter()
  intervals = []
  for e in ops:
    per_kind[kind_of(e["name"])] += e["dur"] / 1e6
    intervals.append((e["ts"], e["ts"] + e["dur"]))
  intervals.sort()
  busy, end = 0.0, -1.0
  for a, b in intervals:
    if a > end:
      busy += b - a
      end = b
    elif b > end:
      busy += b - end
      end = b
  span = (intervals[-1][1] - intervals[0][0]) if intervals else 0.0
  return dict(per_kind), busy / 1e6, span / 1e6, len(ops)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--width", type=int, default=0)
  parser.add_argument("--layers", type=int, default=0)
  parser.add_argument("--trace_dir", default="/tmp/mmul_profile")
  args = parser.parse_args()
  import jax
  from mmul_jax.training import sharding
  c = _common.demo_config(args.width, args.layers)
  mesh = sharding.make_mesh(1)
  step, state, frozen = _common.mmul_step(c, mesh)
  batches = [sharding.shard_batch(b, mesh)
             for b in _common.unlearning_batches(c, 2)]
  for i in range(3):
    state, m = step(state, batches[i % 2], frozen)
  jax.block_until_ready(m)
  with jax.profiler.trace(args.trace_dir, create_perfetto_trace=True):
    t0 = time.perf_counter()
    for i in range(args.steps):
      state, m = step(state, batches[i % 2], frozen)
    jax.block_until_ready(m)
    wall = time.perf_counter() - t0
  files = sorted(glob.glob(os.path.join(
      args.trace_dir, "**", "perfetto_trace.json.gz"), recursive=True),
      key=os.path.getmtime)
  with gzip.open(files[-1]) as f:
    per_kind, busy, span, count = summarise(json.load(f))
  total = sum(per_kind.values())
  print(f"{args.steps} steps in {wall:.2f} s under the profiler "
        f"({args.steps / wall:.2f} steps/s); trace {files[-1]}")
  print(f"XLA operations: {count // args.steps} per step taking "
        f"{total / args.steps * 1e3:.1f} ms "
        f"summed over threads; some operation running "
        f"{busy / span:.0%} of the traced span")
  for kind, s in sorted(per_kind.items(), key=lambda kv: -kv[1]):
    print(f"  {kind:<20}{s / args.steps * 1e3:>8.2f} ms/step "
          f"{s / total:>6.1%}")


if __name__ == "__main__":
  main()

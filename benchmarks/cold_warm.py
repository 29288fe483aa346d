"""MMUL unlearning against retraining on Dr, with an empty compilation cache
(cold) and with the cache an earlier run filled (warm), compilation time
separated from the rest.

  python benchmarks/cold_warm.py [--workdir=/tmp/mmul_cold_warm]

The demo's original model is trained once in WORKDIR/base (its own cache
directory, so it fills nothing the measured runs read). Then two fresh
processes, each on its own copy of that workdir, retrain from scratch on Dr
and run MMUL exactly as `scripts/unlearn.py --config=configs/mmul_demo.py`
would: the first with an empty MMUL_JAX_COMPILATION_CACHE (cold), the
second with the cache the first left (warm). A process counts compilation
through JAX's monitoring events: tracing, lowering to StableHLO, XLA's
backend compile and, when warm, reading the compiled program from the cache.
The rest of a phase's wall time is its steps, input, checkpoints and
logging. Target: warm MMUL at most 5 % of retraining.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                  "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration",
                  "/jax/compilation_cache/cache_retrieval_time_sec")


def child(workdir: str, original_only: bool) -> dict:
  """Runs the phases in this process; `{phase: {wall_s, compile_s}}`."""
  import jax
  from mmul_jax import cli
  from mmul_jax import experiment
  from mmul_jax.unlearn import phases
  cli.enable_compilation_cache()
  spent = {"s": 0.0}

  def listen(event, duration, **_):
    if event in COMPILE_EVENTS:
      spent["s"] += duration

  jax.monitoring.register_event_duration_secs_listener(listen)
  c = _common.demo_config()
  exp = experiment.setup(c, workdir)
  out = {}

  def timed(name, fn):
    before = spent["s"]
    result, info = fn()
    out[name] = {"wall_s": info["wall_seconds"],
                 "compile_s": spent["s"] - before}
    return result

  original = timed("original", lambda: phases.train_model(exp, "original"))
  if not original_only:
    retrained = timed("retrain", lambda: phases.train_model(exp, "retrain"))
    timed("mmul", lambda: phases.unlearn_model(exp, original,
                                               reference=retrained))
  return out


def spawn(workdir: str, cache: str, original_only: bool = False) -> dict:
  env = dict(os.environ, MMUL_JAX_COMPILATION_CACHE=cache)
  cmd = [sys.executable, os.path.abspath(__file__), "--child",
         f"--workdir={workdir}"] + (["--original_only"] if original_only
                                    else [])
  r = subprocess.run(cmd, env=env, capture_output=True, text=True)
  if r.returncode:
    sys.exit(f"error: the timed run failed:\n{r.stderr[-3000:]}")
  return json.loads(r.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", default="/tmp/mmul_cold_warm")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--original_only", action="store_true",
                      help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # progress bars
      out = child(args.workdir, args.original_only)
    print(json.dumps(out))
    return

  base = os.path.join(args.workdir, "base")
  cache = os.path.join(args.workdir, "cache")
  for d in ("cold", "warm", "cache"):
    shutil.rmtree(os.path.join(args.workdir, d), ignore_errors=True)
  os.makedirs(cache)
  spawn(base, os.path.join(args.workdir, "base_cache"), original_only=True)
  runs = {}
  for name in ("cold", "warm"):
    shutil.copytree(base, os.path.join(args.workdir, name))
    runs[name] = spawn(os.path.join(args.workdir, name), cache)

  print(f"{'phase':<10}{'cold wall':>11}{'compile':>9}{'rest':>8}"
        f"{'warm wall':>11}{'compile':>9}{'rest':>8}")
  for phase in ("retrain", "mmul"):
    row = f"{phase:<10}"
    for name in ("cold", "warm"):
      p = runs[name][phase]
      row += (f"{p['wall_s']:>10.1f}s{p['compile_s']:>8.1f}s"
              f"{p['wall_s'] - p['compile_s']:>7.1f}s")
    print(row)
  for name in ("cold", "warm"):
    m, r = runs[name]["mmul"], runs[name]["retrain"]
    print(f"{name}: MMUL / retraining {m['wall_s'] / r['wall_s']:.3f}"
          + (" (target <= 0.05)" if name == "warm" else "")
          + f"; without compilation "
          f"{(m['wall_s'] - m['compile_s']) / (r['wall_s'] - r['compile_s']):.3f}")


if __name__ == "__main__":
  main()

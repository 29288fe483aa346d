"""8 tuning trials of MMUL batched under jax.vmap against 8 sequential
runs.

  python benchmarks/vmap_trials.py [--trials=8] [--steps=60] [--method=mmul]

Both unlearn the tiny config's original model (configs/tiny.py, trained
once before timing) with the same 8 settings (learning rates and, for
MMUL, loss weights drawn log-uniformly from its search space, seed 0):
one `unlearn.phases.unlearn_model` run after the other (each compiles its
step, reads its input and checkpoints), and one `unlearn.trials.
unlearn_trials` run of all 8 (one compile, one input stream shared by the
trials). Evaluation, the same in both, is not timed. Fresh workdirs, no
compilation cache. Prints both wall times and their ratio. Target: >= 3x
faster batched.
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402,F401  (puts configs/ on the path)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--trials", type=int, default=8)
  parser.add_argument("--steps", type=int, default=60)
  parser.add_argument("--method", default="mmul")
  args = parser.parse_args()

  import numpy as np
  import tiny  # configs/tiny.py
  from mmul_jax import experiment
  from mmul_jax import methods
  from mmul_jax.unlearn import phases
  from mmul_jax.unlearn import trials

  root = tempfile.mkdtemp(prefix="vmap_trials_")
  rng = np.random.default_rng(0)
  log_uniform = lambda lo, hi: float(np.exp(rng.uniform(np.log(lo),
                                                        np.log(hi))))
  batched = trials.batched_keys(args.method)
  m = methods.get(args.method)

  def setting():
    out = {"unlearn.learning_rate": log_uniform(1e-4, 3e-3)}
    for h, (lo, hi, scale) in m.ranges.items():
      key = f"method.{args.method}.{h}"
      if key in batched:
        out[key] = (log_uniform(lo, hi) if scale == "log"
                    else float(rng.uniform(lo, hi)))
    return out

  settings = [setting() for _ in range(args.trials)]

  def config(s):
    c = tiny.get_config()
    c.data.data_dir = os.path.join(root, "data")
    c.method.name = args.method
    c.unlearn.num_steps = args.steps
    c.unlearn.checkpoint_every = args.steps
    c.unlearn.log_every = args.steps
    c.update_from_flattened_dict(s)
    return c

  workdir = os.path.join(root, "w")
  exp = experiment.setup(config(settings[0]), workdir)
  with contextlib.redirect_stderr(io.StringIO()):
    original, _ = phases.train_model(exp, "original")
  exp.eval_sets  # noqa: B018  (loaded once, outside both timings)
  t0 = time.perf_counter()
  with contextlib.redirect_stderr(io.StringIO()):
    for s in settings:
      phases.unlearn_model(experiment.setup(config(s), workdir), original)
  sequential = time.perf_counter() - t0
  t0 = time.perf_counter()
  with contextlib.redirect_stderr(io.StringIO()):
    trials.unlearn_trials(exp, original, [config(s) for s in settings])
  together = time.perf_counter() - t0
  print(f"{args.trials} {args.method} trials x {args.steps} steps (tiny "
        f"config): sequential {sequential:.1f} s, batched {together:.1f} s:"
        f" {sequential / together:.2f}x faster batched (target >= 3x)")


if __name__ == "__main__":
  main()

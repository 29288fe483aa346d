"""K tiny models trained at once under jax.vmap against K sequential runs.

  python benchmarks/vmap_models.py [--models=8] [--steps=60]

Both train the tiny config's original model (configs/tiny.py) on the same
data, one per seed, through `unlearn.phases.train_model`: K runs one after
the other (each compiles its step, reads its input and checkpoints), and
one vmapped run of K (one compile, one stacked input stream). Fresh
workdirs, no compilation cache. Prints both wall times and their ratio.
Target: >= 3x faster under vmap.
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
  parser.add_argument("--models", type=int, default=8)
  parser.add_argument("--steps", type=int, default=60)
  args = parser.parse_args()

  import tiny  # configs/tiny.py
  from mmul_jax import experiment
  from mmul_jax.unlearn import phases

  root = tempfile.mkdtemp(prefix="vmap_models_")

  def config(seed):
    c = tiny.get_config()
    c.data.data_dir = os.path.join(root, "data")
    c.seed = seed
    c.method.name = "finetune"
    c.train.num_steps = args.steps
    c.train.checkpoint_every = args.steps
    c.train.log_every = args.steps
    return c

  seeds = tuple(range(args.models))
  experiment.setup(config(0), os.path.join(root, "warm"))  # prepare data
  quiet = contextlib.redirect_stderr(io.StringIO())
  t0 = time.perf_counter()
  with quiet:
    for s in seeds:
      exp = experiment.setup(config(s), os.path.join(root, f"seq{s}"))
      phases.train_model(exp, "original")
  sequential = time.perf_counter() - t0
  t0 = time.perf_counter()
  with contextlib.redirect_stderr(io.StringIO()):
    exp = experiment.setup(config(0), os.path.join(root, "vmap"))
    phases.train_model(exp, "original", seeds)
  together = time.perf_counter() - t0
  print(f"{args.models} tiny models x {args.steps} steps: sequential "
        f"{sequential:.1f} s, vmapped {together:.1f} s: "
        f"{sequential / together:.2f}x faster under vmap (target >= 3x)")


if __name__ == "__main__":
  main()

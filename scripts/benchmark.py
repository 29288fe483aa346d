"""MU-Bench's protocol: a grid of methods x deletion ratios x seeds, on one
task or across tasks (`benchmark.datasets`), a leaderboard and plots.

  python scripts/benchmark.py --config=configs/bench_demo.py [--workdir=DIR]
  python scripts/benchmark.py --config=configs/bench_mubench.py

Runs every cell of `config.benchmark`'s grid that DIR/records.jsonl does not
hold yet (a killed grid resumes where it stopped; no finished cell runs
again), then writes DIR/leaderboard.md, DIR/leaderboard.json and PNG plots.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

import sys

from absl import app

from mmul_jax import cli
from mmul_jax.unlearn import benchmark
from mmul_jax.unlearn import leaderboard

_ARGS = cli.define_flags()


def _run(config, workdir):
  records = benchmark.run(config, workdir)
  report = leaderboard.write_report(records, workdir)
  print(report["markdown"])
  print("plots: " + ", ".join(report["plots"]))


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  if any(a.startswith("--config.method.name") for a in sys.argv[1:]):
    print("error: benchmark.py runs every method of benchmark.methods, so "
          "--config.method.name has no effect; pass "
          "--config.benchmark.methods=\"('salun',)\" instead",
          file=sys.stderr)
    sys.exit(2)
  config, workdir = _ARGS()
  cli.run_or_exit(lambda: _run(config, workdir))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

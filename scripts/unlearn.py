"""Unlearn a deletion set from a trained model and evaluate the result.

  python scripts/unlearn.py --config=configs/mmul_demo.py [--workdir=DIR]
      [--config.method.name=salun] [--config.method.mmul.md_weight=0.5 ...]

Loads the original model and the retrained reference from the workdir, or
trains and caches them first; then runs the configured method, checkpoints it,
prints the comparison table and writes DIR/results.json.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app

from mmul_jax import cli
from mmul_jax.unlearn import run as unlearn_run

_ARGS = cli.define_flags()


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()
  cli.run_or_exit(lambda: unlearn_run.run(config, workdir))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

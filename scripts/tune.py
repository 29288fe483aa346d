"""Tune every unlearning method with the same budget of trials, batched
under vmap, selected without test data.

  python scripts/tune.py --config=configs/mmul_demo.py [--workdir=DIR] \
      [--config.tune.methods='("mmul","scrub")'] \
      [--config.tune.num_trials=32] [--config.tune.batch_size=8]

Trains (or loads) an original and a retrained model without a validation
carve of the training data (`tune.validation_fraction` of the units,
drawn from Dr, never Df) under DIR/tune, runs each method's Optuna study
(`tune.num_trials` trials, `tune.batch_size` at a time as one vmapped
program), selects the trial closest to the retrained model on Df, Dr and
validation, and writes DIR/tuned.json and DIR/tuning.md. Rerunning the
same command resumes a killed study; rerunning with another search space
(e.g. lower tune.learning_rates after every trial diverged) starts a new
study, the old one kept beside it in DIR/tune/studies. Every method is
checked on the task before any model trains (MMUL needs two
modalities). Then

  python scripts/compare_methods.py --config=... --settings=DIR/tuned.json

runs every method at its tuned setting on the real models and test split.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app

from mmul_jax import cli
from mmul_jax.unlearn import tune

_ARGS = cli.define_flags()


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()
  cli.run_or_exit(lambda: tune.tune(config, workdir))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

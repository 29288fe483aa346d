"""Does the forgetting last? Evaluates the run's original, retrained and
unlearned models (trained first where they are not) as they are, after
each simulated weight quantisation scheme and after a relearning attack
at each step count, and scores each model's change against the retrained
model's (`mmul_jax.unlearn.robustness`; the attacks: `robustness.*`).

  python scripts/robustness.py --config=configs/mmul_demo.py \\
      [--workdir=DIR] [--config.robustness.quantize=int8,nf4] \\
      [--config.robustness.relearn_steps=10,50] \\
      [--config.robustness.relearn_data=forget|retain|same_class]

Prints the table and writes robustness.json in DIR and the method's run
directory.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app

from mmul_jax import cli
from mmul_jax.unlearn import robustness

_ARGS = cli.define_flags()


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()
  cli.run_or_exit(lambda: robustness.check(config, workdir))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

"""Does the forgetting survive weight quantisation? Evaluates the run's
original, retrained and unlearned models (trained first where they are
not) as they are and after each simulated quantisation scheme, and scores
each model's change against the retrained model's
(`mmul_jax.unlearn.robustness`).

  python scripts/robustness.py --config=configs/mmul_demo.py \\
      [--workdir=DIR] [--quantize=bf16,int8,int4_g64,nf4]

Prints the table and writes robustness.json in DIR and the method's run
directory.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app
from absl import flags

from mmul_jax import cli
from mmul_jax.unlearn import robustness

_ARGS = cli.define_flags()
_QUANTIZE = flags.DEFINE_list(
    "quantize", ["bf16", "int8", "int4_g64", "nf4"],
    "weight quantisation schemes: bf16, int<bits>[_g<group>], "
    "nf4[_g<group>]")


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()
  cli.run_or_exit(lambda: robustness.quantization(config, workdir,
                                                  _QUANTIZE.value))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

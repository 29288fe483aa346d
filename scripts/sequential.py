"""Sequential deletion requests: the configured Df cut into
`sequential.requests` requests, each unlearned from the model the last one
left, each compared with the model retrained without every request so far
(`mmul_jax.unlearn.sequential`). Resumes where it stopped.

  python scripts/sequential.py --config=configs/mmul_demo.py \\
      [--workdir=DIR] [--config.sequential.requests=3]

Prints the table and writes sequential.json in DIR.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app

from mmul_jax import cli
from mmul_jax.unlearn import sequential

_ARGS = cli.define_flags()


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()
  cli.run_or_exit(lambda: sequential.run(config, workdir))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

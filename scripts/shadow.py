"""Shadow models: K originals, K retrained models and K unlearned models
per method, trained together under jax.vmap, scored per example and
audited against the retrained distribution.

  python scripts/shadow.py --config=configs/shadow_demo.py [--workdir=DIR]
      [--config.shadow.num_models=8] [--config.shadow.methods=mmul,salun]

Prints the leakage table (per representation: Df-vs-Dr AUC, U-LiRA AUC,
KS forget quality) and writes scores.npz, shadow_results.json and
leakage.md under DIR/shadow/<K>x-<seeds>/ (`mmul_jax.unlearn.shadow`).
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app

from mmul_jax import cli
from mmul_jax.unlearn import shadow

_ARGS = cli.define_flags()


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()
  cli.run_or_exit(lambda: shadow.run(config, workdir))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

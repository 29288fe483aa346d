"""Recompute the leakage audit from saved per-example scores, without
running a model.

  python scripts/rescore.py --scores=DIR/shadow/8x-.../scores.npz \
      [--out=audit.json] [--auc_num_samples=5] [--auc_seed=0] [--ulira_ddof=1]

Prints the leakage table; with --out, writes the audit as JSON. A file
the audit cannot read (an array missing, of another shape, not finite or
not numbers, another task's) is one line naming it and the array.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app
from absl import flags

from mmul_jax import cli
from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.unlearn import shadow

_SCORES = flags.DEFINE_string("scores", None, "A scores.npz file.",
                              required=True)
_OUT = flags.DEFINE_string("out", None, "Where to write the audit (JSON).")
_SAMPLES = flags.DEFINE_integer("auc_num_samples", 5,
                                "Disjoint Dr samples per Df-vs-Dr AUC.")
_SEED = flags.DEFINE_integer("auc_seed", 0, "Seed of the Dr samples.")
_DDOF = flags.DEFINE_enum(
    "ulira_ddof", "1", ["0", "1"],
    "U-LiRA's variance: 1 unbiased, 0 maximum likelihood (LiRA's code).")


def main(argv):
  del argv  # cli.parse_flags refused positional arguments

  def go():
    if _SEED.value < 0:  # numpy's seeds are non-negative
      raise errors.ConfigError(f"--auc_seed must be >= 0, got {_SEED.value}")
    audited, table = shadow.rescore(_SCORES.value,
                                    auc_num_samples=_SAMPLES.value,
                                    auc_seed=_SEED.value,
                                    ulira_ddof=int(_DDOF.value))
    print(table)
    if _OUT.value:
      io_utils.atomic_write_json(_OUT.value, audited)

  cli.run_or_exit(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

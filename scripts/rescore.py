"""Recompute the leakage audit from saved per-example scores, without
running a model.

  python scripts/rescore.py --scores=DIR/shadow/8x-.../scores.npz \
      [--out=audit.json] [--auc_num_samples=5] [--auc_seed=0] [--ulira_ddof=1]

Prints the leakage table; with --out, writes the audit as JSON.
"""

from absl import app
from absl import flags

from mmul_jax import cli
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
  del argv

  def go():
    audited, table = shadow.rescore(_SCORES.value,
                                    auc_num_samples=_SAMPLES.value,
                                    auc_seed=_SEED.value,
                                    ulira_ddof=int(_DDOF.value))
    print(table)
    if _OUT.value:
      io_utils.atomic_write_json(_OUT.value, audited)

  cli.run_or_exit(go)


if __name__ == "__main__":
  app.run(main)

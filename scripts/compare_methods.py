"""Run every unlearning method with the same tuning budget and compare.

  python scripts/compare_methods.py --config=configs/mmul_demo.py \
      [--workdir=DIR] [--methods=neggrad,salun] [--shadow_models=8]
      [--rank_by=ulira] [--settings=DIR/tuned.json] [--robustness]

Trains (or loads) the original and retrained models once, runs each method
over its settings in `mmul_jax.unlearn.compare.grid()` (each `Method.grid`), selects a setting per
method without test data (`--selection=retrain_gap|reference`, see
`mmul_jax.unlearn.compare`), prints a markdown table and writes
DIR/comparison.json. With --shadow_models=K, each selected setting is then
audited against K retrained models (U-LiRA, KS forget quality, leakage per
representation; K models per kind under vmap), and --rank_by=ulira orders
the table by closeness to retraining on that audit. With
--settings=DIR/tuned.json (scripts/tune.py), each method it holds runs at
its one tuned setting instead of its grid. With --robustness, each
selected setting goes through scripts/robustness.py's attacks
(`robustness.*`) and the table gains each attack's mean recovery score
over the forgetting metrics (DIR/robustness.png plots them).
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app
from absl import flags

from mmul_jax import cli
from mmul_jax import methods
from mmul_jax.unlearn import compare

_ARGS = cli.define_flags()
_METHODS = flags.DEFINE_list("methods", None,
                             "Methods to compare (default: all).")
_RULE = flags.DEFINE_enum("selection", "retrain_gap",
                          sorted(compare.SELECTION_RULES),
                          "How one setting per method is chosen.")
_SHADOW = flags.DEFINE_integer(
    "shadow_models", 0, "Audit the selected settings with this many "
    "shadow models per kind (>= 3; 0: no audit).")
_SETTINGS = flags.DEFINE_string(
    "settings", None, "A tuned.json of scripts/tune.py: each method it "
    "holds runs at its tuned setting instead of its grid.")
_ROBUSTNESS = flags.DEFINE_bool(
    "robustness", False, "Attack each selected setting (quantisation, "
    "relearning: robustness.*) and add the recovery scores.")
_RANK = flags.DEFINE_enum("rank_by", "selection", list(compare.RANK_BY),
                          "Table order: as run, or by the audit's U-LiRA "
                          "AUC (needs --shadow_models).")


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()
  names = _METHODS.value

  def go():
    for name in names or ():
      methods.get(name)  # unknown names fail before any compute
    compare.compare(config, workdir, names, rule=_RULE.value,
                    shadow_models=_SHADOW.value, rank_by=_RANK.value,
                    tuned=_SETTINGS.value, robustness=_ROBUSTNESS.value)

  cli.run_or_exit(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

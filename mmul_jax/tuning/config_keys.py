"""The `tune.*` config keys (scripts/tune.py): default, doc and check."""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax import methods
from mmul_jax.config_keys import Check
from mmul_jax.config_keys import INT
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import POSITIVE_INT
from mmul_jax.config_keys import Section
from mmul_jax.config_keys import is_int
from mmul_jax.config_keys import is_number
from mmul_jax.config_keys import one_of
from mmul_jax.config_keys import positive_ints

_CHOICES = Check(lambda v: positive_ints(v) and len(set(v)) == len(v),
                 "{key} must be distinct positive integers, got {value!r}")


def _known_methods(config) -> None:
  t = config.tune
  unknown = set(t.methods) - set(methods.METHODS)
  if not isinstance(t.methods, (tuple, list)) or unknown:
    raise errors.ConfigError(
        f"tune.methods must be a tuple of method names; unknown: "
        f"{sorted(unknown)}; available: {sorted(methods.METHODS)}")


# Every method gets num_trials Optuna trials, batch_size at a time under
# jax.vmap, on models trained without a validation carve of D drawn from
# Dr, selected by closeness to the retrained model there (no test data).
TUNE = Section("tune", {
    "methods": Key((), "the methods to tune; empty: every method with a "
                   "search space"),
    "num_trials": Key(32, "trials per method", POSITIVE_INT),
    "batch_size": Key(8, "trials run at once as one vmapped program (a "
                      "multiple of the devices)", POSITIVE_INT),
    "seed": Key(0, "the TPE sampler's seed", INT),
    "startup_trials": Key(8, "random trials before TPE models the rest",
                          Check(lambda v: is_int(v) and v >= 0,
                                "{key} must be an integer >= 0, got "
                                "{value!r}")),
    "validation_fraction": Key(
        0.1, "the validation carve of the tuner's models "
        "(`data.validation_fraction`), in (0, 0.5)",
        Check(lambda v: is_number(v) and 0 < v < 0.5,
              "{key} must be in (0, 0.5): the tuner never selects on test "
              "data, got {value!r}")),
    "learning_rates": Key((1e-5, 1e-2), "the shared log range of learning "
                          "rates", Check(
                              lambda v: isinstance(v, (tuple, list))
                              and len(v) == 2
                              and all(is_number(x) and x > 0 for x in v)
                              and v[0] < v[1],
                              "{key} must be (low, high) with 0 < low < "
                              "high (a log range), got {value!r}")),
    "num_steps": Key((50, 100, 200), "the shared choices of step counts",
                     _CHOICES),
    "df_batch_sizes": Key((16, 32), "the shared choices of Df batch sizes "
                          "(those above |Df| are dropped)", _CHOICES),
    "gap": Key("mean", "how a trial's per-score gaps to the retrained model "
               "combine: `mean`, or `max` (the worst score decides: one "
               "score's overshoot or Dr loss cannot hide behind the "
               "others' closeness)", one_of(("mean", "max"))),
}, rules=(_known_methods,))

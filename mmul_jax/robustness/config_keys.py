"""The `robustness.*` config keys (scripts/robustness.py): which attacks
the robustness check runs on a run's models, with default, doc and
check."""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax.config_keys import Check
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import NONNEGATIVE
from mmul_jax.config_keys import POSITIVE_INT
from mmul_jax.config_keys import Section
from mmul_jax.config_keys import is_int
from mmul_jax.config_keys import one_of
from mmul_jax.robustness import quantize
from mmul_jax.robustness import relearn


def _schemes(config) -> None:
  for s in config.robustness.quantize:
    try:
      quantize.parse(s)
    except ValueError as e:
      raise errors.ConfigError(f"robustness.quantize: {e}") from None


def _batch(config) -> None:
  r = config.robustness
  if r.relearn_steps and r.relearn_batch_size > r.relearn_units:
    raise errors.ConfigError(
        f"robustness.relearn_batch_size ({r.relearn_batch_size}) exceeds "
        f"robustness.relearn_units ({r.relearn_units}), the examples an "
        "attack fine-tunes on: lower it (a batch would repeat examples)")


_STEPS = Check(lambda v: isinstance(v, (tuple, list)) and all(
    is_int(x) and x > 0 for x in v) and list(v) == sorted(set(v)),
               "{key} must be increasing positive integers (empty: no "
               "relearning), got {value!r}")
_SCHEMES = Check(lambda v: isinstance(v, (tuple, list)) and all(
    isinstance(x, str) for x in v),
                 "{key} must be a tuple of scheme names, got {value!r}")

ROBUSTNESS = Section("robustness", {
    "quantize": Key(("bf16", "int8", "int4_g64", "nf4"),
                    "weight quantisation schemes, each a simulated attack "
                    "(`robustness.quantize`: bf16, int<bits>[_g<group>], "
                    "nf4[_g<group>]); empty: none", _SCHEMES),
    "relearn_steps": Key((10, 50), "relearning attack: the fine-tuning "
                         "steps after which each model is evaluated "
                         "(increasing; empty: no relearning)", _STEPS),
    "relearn_data": Key("forget", "what the attack fine-tunes on: "
                        "\"forget\" (Df units), \"retain\" (unrelated Dr "
                        "units every model trained on), \"same_class\" (Dr "
                        "units of a Df unit's class; labelled data)",
                        one_of(relearn.DATA)),
    "relearn_units": Key(8, "units each attack seed draws", POSITIVE_INT),
    "relearn_batch_size": Key(8, "examples per relearning step",
                              POSITIVE_INT),
    "relearn_learning_rate": Key(0.0, "the attack's constant AdamW "
                                 "learning rate; 0: 3% of the run's "
                                 "train.learning_rate", NONNEGATIVE),
    "relearn_seeds": Key(3, "attack seeds, vmapped (each its own units, "
                         "order and noise); metrics are their mean",
                         POSITIVE_INT),
}, rules=(_schemes, _batch))

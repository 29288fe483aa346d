"""Unlearning methods by name: each builds a `Plan` for the one loop.

  retrain, finetune, l1_sparse      methods/finetune.py
  neggrad, neggrad_plus             methods/neggrad.py
  randlabel, salun                  methods/relabel.py
  bad_teaching, scrub, delete       methods/distill.py
  dtd, fisher                       methods/noise.py
  mmul                              methods/mmul.py

A method's hyperparameters are `config.method.<name>` (defaults in
`mmul_jax.config_schema`); `check_config` validates them before any compute.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from mmul_jax import errors
from mmul_jax.methods import distill
from mmul_jax.methods import finetune
from mmul_jax.methods import mmul
from mmul_jax.methods import neggrad
from mmul_jax.methods import noise
from mmul_jax.methods import relabel
from mmul_jax.methods.base import Context
from mmul_jax.methods.base import Plan


def _no_problems(h, config):
  del h, config
  return []


def _needs_nothing(h):
  del h
  return set()


@dataclasses.dataclass(frozen=True)
class Method:
  """A registered method: its builder, hyperparameters and checks."""

  build: Callable[[Context], Plan]
  hparams: tuple[str, ...] = ()
  check: Callable[..., list[str]] = _no_problems
  needs: Callable[..., set[str]] = _needs_nothing  # data features it reads


METHODS: dict[str, Method] = {
    "retrain": Method(finetune.build_retrain),
    "finetune": Method(finetune.build_finetune),
    "neggrad": Method(neggrad.build_neggrad),
    "neggrad_plus": Method(neggrad.build_neggrad_plus, ("retain_weight",),
                           neggrad.check_neggrad_plus),
    "randlabel": Method(relabel.build_randlabel, ("target",),
                        relabel.check_randlabel, relabel.needs),
    "salun": Method(relabel.build_salun,
                    ("target", "threshold", "mask_batches"),
                    relabel.check_salun, relabel.needs),
    "bad_teaching": Method(distill.build_bad_teaching,
                           ("temperature", "teacher_seed"),
                           distill.check_bad_teaching),
    "scrub": Method(distill.build_scrub,
                    ("temperature", "task_weight", "kl_weight", "period",
                     "max_steps", "max_periods"), distill.check_scrub),
    "delete": Method(distill.build_delete, ("temperature", "mask_value"),
                     distill.check_delete),
    "dtd": Method(noise.build_dtd, ("descent", "epsilon", "delta", "radius"),
                  noise.check_dtd),
    "fisher": Method(noise.build_fisher,
                     ("alpha", "max_variance", "num_batches"),
                     noise.check_fisher),
    "l1_sparse": Method(finetune.build_l1_sparse, ("alpha", "no_l1_steps"),
                        finetune.check_l1_sparse),
    "mmul": Method(mmul.build, mmul.HPARAMS, mmul.check),
}


def get(name: str) -> Method:
  if name not in METHODS:
    raise errors.ConfigError(f"unknown method {name!r}; available: "
                             f"{', '.join(sorted(METHODS))}")
  return METHODS[name]


def check_config(config, data_features: set[str]) -> None:
  """Raises `ConfigError` if the selected method cannot run as configured."""
  name = config.method.name
  method = get(name)
  h = config.method.get(name)
  missing = [k for k in method.hparams if h is None or k not in h]
  if missing:
    raise errors.ConfigError(
        f"method {name!r} needs hyperparameter method.{name}.{missing[0]}; "
        "start config files from mmul_jax.config_schema.default_config(), "
        "which has every method's defaults")
  problems = method.check(h, config)
  if problems:
    raise errors.ConfigError(f"method {name!r}: {problems[0]}")
  lacking = method.needs(h) - data_features
  if lacking:
    raise errors.ConfigError(
        f"method {name!r} needs {', '.join(sorted(lacking))}, which dataset "
        f"{config.data.name!r} does not have (it has "
        f"{', '.join(sorted(data_features))})")


def build(ctx: Context) -> Plan:
  """The plan of the method named by `ctx.config.method.name`."""
  return get(ctx.config.method.name).build(ctx)


__all__ = ["METHODS", "Context", "Method", "Plan", "build", "check_config",
           "get"]

"""Unlearning methods by name: each builds a `Plan` for the one loop.

  retrain, finetune, l1_sparse      methods/finetune.py
  neggrad, neggrad_plus             methods/neggrad.py
  npo                               methods/npo.py
  randlabel, salun                  methods/relabel.py
  bad_teaching, scrub, delete       methods/distill.py
  dtd, fisher                       methods/noise.py
  mmul                              methods/mmul.py
  mmul_plus                         methods/mmul_plus.py
  mmul_gen                          methods/mmul_gen.py (image-conditioned
                                    language models)
  simnpo, idkdpo, rmu               methods/llm.py (language models)
  esd                               methods/esd.py (text-to-image models)

Everything about a method is its `Method` record (`methods/base.py`): the
builder, its hyperparameters' defaults and ranges, its checks and flags
(trains the task loss, transforms every weight, gradient ascent) and its
tuning grid. `config_schema.default_config` and `validate`,
`unlearn.compare` and the report read the records.

Adding a method: write its file (a `build(ctx) -> Plan` and a `Method`
record) and add one line to `METHODS` below; nothing else changes. A test
or another project can `register(name, method)` its own.
"""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax.methods import distill
from mmul_jax.methods import finetune
from mmul_jax.methods import llm
from mmul_jax.methods import mmul
from mmul_jax.methods import esd
from mmul_jax.methods import mmul_gen
from mmul_jax.methods import mmul_plus
from mmul_jax.methods import neggrad
from mmul_jax.methods import noise
from mmul_jax.methods import npo
from mmul_jax.methods import relabel
from mmul_jax.methods.base import Context
from mmul_jax.methods.base import Method
from mmul_jax.methods.base import Plan

METHODS: dict[str, Method] = {
    "retrain": finetune.RETRAIN,
    "finetune": finetune.FINETUNE,
    "neggrad": neggrad.NEGGRAD,
    "neggrad_plus": neggrad.NEGGRAD_PLUS,
    "randlabel": relabel.RANDLABEL,
    "salun": relabel.SALUN,
    "bad_teaching": distill.BAD_TEACHING,
    "scrub": distill.SCRUB,
    "delete": distill.DELETE,
    "dtd": noise.DTD,
    "fisher": noise.FISHER,
    "l1_sparse": finetune.L1_SPARSE,
    "mmul": mmul.MMUL,
    "mmul_plus": mmul_plus.MMUL_PLUS,
    "mmul_gen": mmul_gen.MMUL_GEN,
    "npo": npo.NPO,
    "esd": esd.ESD,
    "simnpo": llm.SIMNPO,
    "idkdpo": llm.IDKDPO,
    "rmu": llm.RMU,
}


def register(name: str, method: Method) -> Method:
  """Adds (or replaces) a method under `name`. Its defaults reach
  `default_config()` from then on.

  Args:
    name: the method's name, `config.method.name`; a Python identifier.
    method: its `Method` record.

  Returns:
    `method`, unchanged.

  Raises:
    ValueError: `name` is not an identifier.
  """
  if not name.isidentifier():
    raise ValueError(f"a method name must be an identifier, got {name!r}")
  METHODS[name] = method
  return method


def get(name: str) -> Method:
  """The registered method `name`.

  Args:
    name: a key of `METHODS` (`config.method.name`).

  Returns:
    Its `Method` record.

  Raises:
    ConfigError: no method of that name is registered.
  """
  if name not in METHODS:
    raise errors.ConfigError(f"unknown method {name!r}; available: "
                             f"{', '.join(sorted(METHODS))}")
  return METHODS[name]


def names_where(flag: str) -> list[str]:
  """The registered methods whose `Method.<flag>` is true, sorted.

  Args:
    flag: a boolean field of `Method`, e.g. "trains_task_loss",
      "full_weight" or "gradient_ascent".

  Returns:
    The names of those methods, sorted.
  """
  return sorted(n for n, m in METHODS.items() if getattr(m, flag))


def check_config(config, data_features: set[str], task=None) -> None:
  """Raises `ConfigError` if the selected method cannot run as configured
  (on `task`, the run's `tasks.Task`, when given).

  Args:
    config: the run config; `config.method.name` selects the method and
      `config.method.<name>` holds its hyperparameters.
    data_features: the features the dataset has ("labels", "captions",
      ...), checked against what the method needs (`Method.needs`).
    task: the run's `tasks.Task`, for the method's `check_task`; None skips
      those checks.

  Raises:
    ConfigError: the first problem found (a missing or out-of-range
      hyperparameter, a feature the dataset lacks, a curriculum or LoRA
      setting the method cannot use).
  """
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
  if task is not None:
    problems += method.task_problems(h, task)
  if problems:
    raise errors.ConfigError(f"method {name!r}: {problems[0]}")
  lacking = method.needs(h) - data_features
  if lacking:
    raise errors.ConfigError(
        f"method {name!r} needs {', '.join(sorted(lacking))}, which dataset "
        f"{config.data.name!r} does not have (it has "
        f"{', '.join(sorted(data_features))})")
  if config.unlearn.curriculum != "none" and not method.trains_task_loss:
    raise errors.ConfigError(
        f"method {name!r} does not train on the task loss, so "
        "unlearn.curriculum has nothing to weight; it works with "
        f"{', '.join(names_where('trains_task_loss'))}")
  if (config.unlearn.lora_rank or config.unlearn.lora_fraction) and (
      method.full_weight):
    raise errors.ConfigError(
        f"method {name!r} transforms the update of every weight (mask or "
        "noise), so it cannot train LoRA adapters; set unlearn.lora_rank=0 "
        "and unlearn.lora_fraction=0")


def check_deletion(config, df) -> None:
  """Raises `ConfigError` if the selected method cannot run on the
  deletion set `df` (`data.deletion.DeletionSet`).

  Args:
    config: the run config; `config.method.name` selects the method.
    df: the deletion set; its `forget_ids` (the deleted units) are counted.

  Raises:
    ConfigError: the method's `check_deletion` found a problem (MMUL's
      derangement needs two deleted units).
  """
  name = config.method.name
  problems = get(name).check_deletion(config.method.get(name), config,
                                      len(df.forget_ids))
  if problems:
    raise errors.ConfigError(f"method {name!r}: {problems[0]}")


def build(ctx: Context) -> Plan:
  """The plan of the method named by `ctx.config.method.name`.

  Args:
    ctx: what the method may use (`Context`): the task, model, original
      parameters θ₀, config, hyperparameters and batches.

  Returns:
    The method's `Plan` for the unlearning loop.
  """
  return get(ctx.config.method.name).build(ctx)


__all__ = ["METHODS", "Context", "Method", "Plan", "build", "check_config",
           "check_deletion", "get", "names_where", "register"]

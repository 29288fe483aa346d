"""What the search tries for a method: `space(name) -> {dotted key: Param}`.

A method declares its own tunable hyperparameters in `Method.ranges`
(`name -> (low, high, "log" | "linear")` or `(choices, "choice")`, keys
`method.<name>.<h>`); the loop's shared ones (`SHARED`: learning rate,
step count, batch composition) are searched for every method alike, so
every method gets the same kind of budget.

A float parameter on a range is *batched* when its value lives in state
(the loop's learning rate, injected into the optimiser state; a method's
`Method.in_state`): trials that differ only in such numbers can run as one
program vmapped over a trial axis. A choice (a step count, a batch size:
shapes or control flow) or a float baked into a method's functions (NPO's
β, a distillation temperature) is *structural*: trials that differ in it
run in different batches (`batches`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Sequence

import ml_collections

from mmul_jax import errors
from mmul_jax import methods
from mmul_jax.tuning import config_keys

SCALES = ("log", "linear", "choice")


@dataclasses.dataclass(frozen=True)
class Param:
  """A range `[low, high]` on a log or linear scale, or a set of
  `choices`."""

  low: float | None = None
  high: float | None = None
  scale: str = "linear"
  choices: tuple = ()
  structural: bool = False  # a float that still splits a trial batch

  def __post_init__(self):
    if self.scale not in SCALES:
      raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
    if self.scale == "choice":
      if not self.choices or len(set(self.choices)) != len(self.choices):
        raise ValueError(f"a choice needs distinct choices, got "
                         f"{self.choices!r}")
      return
    if not (math.isfinite(self.low) and math.isfinite(self.high)
            and self.low < self.high):
      raise ValueError(f"a range needs finite low < high, got "
                       f"[{self.low}, {self.high}]")
    if self.scale == "log" and self.low <= 0:
      raise ValueError(f"a log range needs low > 0, got {self.low}")

  @property
  def batched(self) -> bool:
    """A float on a range that lives in state: it can vary along a vmapped
    trial axis."""
    return self.scale != "choice" and not self.structural

  def contains(self, value: Any) -> bool:
    if self.scale == "choice":
      return value in self.choices
    return self.low <= float(value) <= self.high

  @classmethod
  def from_range(cls, spec: tuple, structural: bool = False) -> "Param":
    """`Method.ranges`' form: `(low, high, scale)` or `(choices, "choice")`."""
    if len(spec) == 2 and spec[1] == "choice":
      return cls(scale="choice", choices=tuple(spec[0]))
    low, high, scale = spec
    return cls(float(low), float(high), scale, structural=structural)


def shared(tune_config) -> dict[str, "Param"]:
  """The loop's hyperparameters, searched for every method alike, from
  `config.tune`: a log range of learning rates, and the step counts and
  Df batch sizes (choices: they change shapes or control flow)."""
  low, high = tune_config.learning_rates
  return {
      "unlearn.learning_rate": Param(float(low), float(high), "log"),
      "unlearn.num_steps": Param(scale="choice",
                                 choices=tuple(tune_config.num_steps)),
      "unlearn.df_batch_size": Param(
          scale="choice", choices=tuple(tune_config.df_batch_sizes)),
  }


def space(name: str, shared_space: dict | None = None,
          task=None, hparams=None) -> dict[str, Param]:
  """The search space of method `name`: `shared_space` (default `SHARED`)
  and its own `Method.ranges`, less those `Method.unused` on `task` (when
  given) with the fixed `hparams` (the config's `method.<name>`, when
  given). A method with nothing to tune (its grid is one empty setting:
  retrain) has an empty space."""
  m = methods.get(name)
  if tuple(m.grid) == ({},):
    return {}
  out = dict(SHARED if shared_space is None else shared_space)
  skip = m.unused(task, hparams) if task is not None else frozenset()
  for h, spec in m.ranges.items():
    if h in skip:
      continue
    if h not in m.defaults:
      raise errors.ConfigError(
          f"method {name!r} declares a range for {h!r}, which is not one "
          f"of its hyperparameters {sorted(m.defaults)}")
    # Only what the method keeps in state varies along a trial axis.
    out[f"method.{name}.{h}"] = Param.from_range(
        spec, structural=h not in m.in_state)
  return out


def to_optuna(sp: dict[str, Param]) -> dict:
  """`{key: optuna distribution}` (for `Study.ask(fixed_distributions)`)."""
  optuna = errors.require("optuna", extra="tune",
                          needed_for="the hyperparameter search")
  out = {}
  for key, p in sp.items():
    if p.scale == "choice":
      out[key] = optuna.distributions.CategoricalDistribution(p.choices)
    else:
      out[key] = optuna.distributions.FloatDistribution(
          p.low, p.high, log=p.scale == "log")
  return out


def suggest(trial, sp: dict[str, Param]) -> dict:
  """One setting `{key: value}` drawn by an Optuna trial."""
  out = {}
  for key, p in sp.items():
    if p.scale == "choice":
      out[key] = trial.suggest_categorical(key, p.choices)
    else:
      out[key] = trial.suggest_float(key, p.low, p.high,
                                     log=p.scale == "log")
  return out


def structure(setting: dict, sp: dict[str, Param]) -> tuple:
  """The structural part of a setting: trials batch together only when
  it is equal."""
  return tuple(sorted((k, setting[k]) for k, p in sp.items()
                      if not p.batched and k in setting))


def batches(settings: Sequence[dict], sp: dict[str, Param],
            size: int) -> list[list[int]]:
  """Indices of `settings` grouped into batches of at most `size` trials
  that share their structure, in first-seen order of structure."""
  if size < 1:
    raise ValueError(f"a batch holds at least one trial, got {size}")
  groups: dict[tuple, list[int]] = {}
  for i, s in enumerate(settings):
    groups.setdefault(structure(s, sp), []).append(i)
  return [list(chunk) for idx in groups.values()
          for chunk in _chunks(idx, size)]


def _chunks(items: list, size: int):
  it = iter(items)
  while chunk := list(itertools.islice(it, size)):
    yield chunk


# The default config's shared space.
SHARED = shared(ml_collections.ConfigDict(config_keys.TUNE.defaults()))

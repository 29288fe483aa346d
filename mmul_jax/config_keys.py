"""Config keys as data: each key's default, one-line doc and check in one
table (`Section`) beside the code that reads it, as `Method.defaults` and
`Method.ranges` are for methods. `config_schema` builds the default config
from the tables, `validate` walks them, and the configs reference
(docs/configs.md) is generated from them (`reference`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Collection, Sequence

import ml_collections

from mmul_jax import errors


@dataclasses.dataclass(frozen=True)
class Check:
  """A per-key check: `ok(value)`, else `ConfigError(message)` with
  `{key}` and `{value}` (and `{allowed}`) filled in."""

  ok: Callable[[Any], bool]
  message: str
  allowed: Collection | None = None  # one_of: the choices, read when run

  def __call__(self, key: str, value) -> None:
    try:
      good = self.ok(value)
    except (TypeError, ValueError):
      good = False
    if not good:
      allowed = list(self.allowed) if self.allowed is not None else None
      raise errors.ConfigError(self.message.format(key=key, value=value,
                                                   allowed=allowed))


@dataclasses.dataclass(frozen=True)
class Key:
  """One config key: its default, one-line doc (the reference's row) and
  its check (None: any value of the default's kind)."""

  default: Any
  doc: str
  check: Check | None = None


@dataclasses.dataclass(frozen=True)
class Section:
  """The keys of one config section (`name` "" for the top level), in
  their reference order, and the rules that read several keys at once
  (`rule(config)` raising `ConfigError`), run after every key's check."""

  name: str
  keys: dict[str, Key]
  rules: Sequence[Callable] = ()

  def dotted(self, key: str) -> str:
    return f"{self.name}.{key}" if self.name else key

  def defaults(self) -> dict[str, Any]:
    return {k: key.default for k, key in self.keys.items()}

  def values(self, config: ml_collections.ConfigDict):
    """The section's node of `config` (a dotted name is nested)."""
    for part in self.name.split(".") if self.name else ():
      config = config[part]
    return config

  def validate(self, config: ml_collections.ConfigDict) -> None:
    """Each key's check, then the rules."""
    values = self.values(config)
    for k, key in self.keys.items():
      if key.check is not None:
        key.check(self.dotted(k), values[k])
    for rule in self.rules:
      rule(config)


def is_int(x) -> bool:
  return isinstance(x, int) and not isinstance(x, bool)


def is_number(x) -> bool:
  """A finite int or float (not a bool)."""
  return isinstance(x, (int, float)) and not isinstance(x, bool) and (
      math.isfinite(x))


def positive_ints(values) -> bool:
  """A non-empty tuple (or list) of integers > 0."""
  return (isinstance(values, (tuple, list)) and len(values) > 0
          and all(is_int(x) and x > 0 for x in values))


# The checks keys share; a key with its own wording makes its own `Check`.
POSITIVE_INT = Check(lambda v: is_int(v) and v > 0,
                     "{key} must be a positive integer, got {value!r}")
NONNEGATIVE = Check(lambda v: is_number(v) and v >= 0,
                    "{key} must be a number >= 0, got {value!r}")
INT = Check(is_int, "{key} must be an integer, got {value!r}")
STRING = Check(lambda v: isinstance(v, str),
               "{key} must be a string, got {value!r}")
STRINGS = Check(lambda v: isinstance(v, (tuple, list))
                and all(isinstance(x, str) for x in v),
                "{key} must be a tuple of strings, got {value!r}")


def one_of(allowed: Collection) -> Check:
  """The value is one of `allowed` (a live registry is read when checked,
  so a dataset or preset registered later is accepted)."""
  return Check(lambda v: v in allowed,
               "{key} = {value!r} is not one of {allowed}", allowed=allowed)


def int_at_least(low: int, meaning: str) -> Check:
  """An integer >= `low`; `meaning` says what the bound's value means."""
  return Check(lambda v: is_int(v) and v >= low,
               f"{{key}} must be an integer >= {low} ({meaning}), got "
               "{value!r}")


def _doc_value(value) -> str:
  if isinstance(value, str):
    return f"`{value!r}`" if value == "" else f"`{value}`"
  if isinstance(value, float) and value and (abs(value) < 1e-3
                                             or abs(value) >= 1e5):
    return f"{value:g}"
  return f"`{value!r}`" if isinstance(value, (tuple, list)) else str(value)


TABLE_HEADER = "| key | default | meaning |\n|---|---|---|\n"


def row(key: str, default, doc: str) -> str:
  """One row of the configs reference: `key | default | meaning`."""
  doc = doc.replace("|", "\\|")
  return f"| `{key}` | {_doc_value(default)} | {doc} |\n"


def rows(section: Section) -> str:
  """The configs reference's rows of `section`, in its order."""
  return "".join(row(section.dotted(k), key.default, key.doc)
                 for k, key in section.keys.items())

"""The results record: what results.json holds (schema version 2), read by
the printed table, `compare`, the benchmark grid and its leaderboard.

Every metric has one flat, self-describing name, `/`-joined from the
outside in (like big_vision's `prefix/key` logging):

  <split>/<ranking>/<recall>   retrieval recall in %: split test, df or dr;
                               ranking itc (cosine) or itm (re-ranked by the
                               matching head); i2t_r1, t2i_r5, r10_mean, ...
  <split>/accuracy             classification accuracy in %
  <split>/mean_pair_cosine     mean score of a split's own pairs
  <split>/mean_pair_match_prob, <split>/mean_p_true
  auc/<score>/mean|std|values  the Df-vs-Dr AUC by a pair score: cosine,
                               match (matching probability), p_true
  mubench/<metric>             MU-Bench's metrics (knowledge_gap, zrf, ...)
  mubench/mia/<metric>         its membership-inference attack

A run's summary names what moved: `progress/<auc>` (the fraction of the
way from the original's AUC to the retrained one's) and `change/<metric>`
(unlearned minus original). Records of schema version 1 (nested keys,
written before the record had a version) are refused with the version
named; `evaluation.results_v1.convert` and `scripts/convert_results.py`
convert them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from mmul_jax import errors
from mmul_jax import io_utils

SCHEMA_VERSION = 2
# A model's metrics by flat name: numbers, lists (an AUC's samples) or None.
Metrics = dict[str, Any]


def flatten(nested: dict, prefix: str = "") -> Metrics:
  """`{"test": {"itc": {"r1_mean": x}}}` -> `{"test/itc/r1_mean": x}`:
  the flat name of every leaf (lists are leaves), in insertion order.

  Examples:
    >>> flatten({"auc": {"cosine": {"mean": 0.5, "values": [0.4, 0.6]}}})
    {'auc/cosine/mean': 0.5, 'auc/cosine/values': [0.4, 0.6]}
  """
  out = {}
  for key, value in nested.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict):
      out.update(flatten(value, name + "/"))
    else:
      out[name] = value
  return out


@dataclasses.dataclass(frozen=True)
class Deletion:
  """The deletion set a run forgot: what one deleted id is (`unit`: an
  image, an example's images or a molecule, with all its texts), ratio in
  %, seed, sizes in units and in examples (unit-text pairs), and the
  SHA-256 of its id list."""

  unit: str
  ratio: float
  seed: int
  num_forget_units: int
  num_forget_examples: int
  num_retain_units: int
  sha256: str


@dataclasses.dataclass(frozen=True)
class ModelResults:
  """One evaluated model (original, retrained or unlearned).

  metrics: every metric by flat name. overall: MU-Bench's harmonic-mean
  score against the original. retrain_gap: |this - retrained| for each
  headline metric as a fraction, and their `mean`; None for the retrained
  model. wall_seconds: training or unlearning time; eval_seconds: its
  evaluation's (None where not measured).
  """

  metrics: Metrics
  overall: float
  retrain_gap: dict[str, float] | None
  wall_seconds: float | None
  eval_seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class Results:
  """A run's results: its task kind, dataset, method and deletion set, the
  evaluated models by name ("original", "retrained" and the method), what
  moved (`summary`), the devices, the total time and the config."""

  task: str
  dataset: str
  method: str
  deletion: Deletion
  models: dict[str, ModelResults]
  summary: dict[str, float | None]
  devices: list[str]
  total_seconds: float
  config: dict
  schema_version: int = SCHEMA_VERSION

  def to_json(self) -> dict:
    """The record as JSON values: a metric that could not be measured
    (NaN) is null, since JSON has no NaN."""
    return finite_or_none(dataclasses.asdict(self))

  @classmethod
  def from_json(cls, d: dict, *, source: str = "results record") -> Results:
    """The record of a results.json object; one of another schema version
    raises `DataError` naming it and the converter."""
    check_version(d, source)
    try:
      return cls(**{**d, "deletion": Deletion(**d["deletion"]),
                    "models": {k: ModelResults(**v)
                               for k, v in d["models"].items()}})
    except (KeyError, TypeError) as e:
      raise errors.DataError(
          f"{source} is not a schema-{SCHEMA_VERSION} results record ({e}); "
          "rerun the run that wrote it") from None


def version_of(d: dict) -> int:
  """A record's schema version; records without one are version 1."""
  return d.get("schema_version", 1) if isinstance(d, dict) else 0


def check_version(d: dict, source: str) -> None:
  """Raises `DataError` unless `d` is of this schema version."""
  v = version_of(d)
  if v == SCHEMA_VERSION:
    return
  if v == 1:
    raise errors.DataError(
        f"{source} is a schema-1 results record (nested metric names, "
        f"written before the record had a version); this version reads "
        f"schema {SCHEMA_VERSION}. Convert it with `python "
        "scripts/convert_results.py FILE` (the original is kept as "
        "FILE.v1), or rerun the run that wrote it")
  raise errors.DataError(
      f"{source} has schema version {v!r}; this version of mmul_jax reads "
      f"schema {SCHEMA_VERSION}: rerun the run that wrote it")


def read(path: str) -> Results:
  """The results record of a results.json file."""
  return Results.from_json(
      io_utils.read_json(path, what="results file",
                         remedy="rerun the run that wrote it"),
      source=path)


def finite_or_none(tree):
  """`tree` (dicts, lists) with NaN and infinities as None: the numbers of
  a written record are finite or null (tables show null as n/a)."""
  if isinstance(tree, dict):
    return {k: finite_or_none(v) for k, v in tree.items()}
  if isinstance(tree, (list, tuple)):
    return type(tree)(finite_or_none(v) for v in tree)
  if isinstance(tree, float) and not math.isfinite(tree):
    return None
  return tree

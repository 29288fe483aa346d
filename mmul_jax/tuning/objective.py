"""What a tuning trial is scored by, from the metrics of a run whose
held-out set is the validation carve (`data.validation_fraction`).

Such a run's "test/..." metrics are the validation units' (the test split
is never read), so `trial_row` renames them "val": nothing here can reach
test data. A trial has two objectives:

* `gap` (minimised): the absolute difference from the retrained model of
  the task's score on Df, Dr and validation (as fractions) and of every
  Df-vs-Dr AUC the task has (pair cosine and matching head for retrieval,
  p(true label) for classification), combined by `tune.gap`: their mean,
  or their maximum (`"max"`: the worst score decides, so a large overshoot
  of one AUC or a loss on Dr cannot hide behind the other scores'
  closeness). Forgetting more than the retrained model counts as much as
  forgetting less, and every score the model produces counts, not only
  the one a method targets.
* `utility` (maximised): the task's score on validation, as a fraction.

The chosen trial (`choose`) is the one with the smallest gap; the gap
already charges a utility loss against the retrained model, and the
utility objective gives the Pareto front reported beside it.
"""

from __future__ import annotations

import math
from typing import Sequence

DIRECTIONS = ("minimize", "maximize")  # gap, utility
OBJECTIVES = ("gap", "utility")
REDUCTIONS = ("mean", "max")  # `tune.gap`


def trial_row(metrics: dict, task) -> dict:
  """`{"val", "df", "dr": score in %, "auc": {name: mean}}` of one run."""
  scores = task.split_scores(metrics)
  return {"val": scores["test"], "df": scores["df"], "dr": scores["dr"],
          "auc": {auc: metrics[f"{auc}/mean"] for auc in task.aucs}}


def gaps(row: dict, retrained: dict) -> dict:
  """|Δ| to the retrained model's row, per score (fractions)."""
  out = {s: abs(row[s] - retrained[s]) / 100.0 for s in ("df", "dr", "val")
         if s in row}  # no "val": a run without a validation carve
  out.update({a: abs(row["auc"][a] - retrained["auc"][a])
              for a in row["auc"]})
  return out


def gap(row: dict, retrained: dict, reduce: str = "mean") -> float:
  """The per-score gaps combined by `reduce` (module docstring)."""
  diffs = list(gaps(row, retrained).values())
  if reduce == "max":
    return max(diffs)
  if reduce != "mean":
    raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
  return sum(diffs) / len(diffs)


def values(row: dict, retrained: dict,
           reduce: str = "mean") -> tuple[float, float]:
  """The trial's objectives, in `OBJECTIVES` order."""
  return gap(row, retrained, reduce), row["val"] / 100.0


def pareto(points: Sequence[Sequence[float]]) -> list[int]:
  """Indices of the points no other point dominates (lower gap and higher
  utility, `DIRECTIONS`), in input order."""
  def dominates(a, b):
    return (a[0] <= b[0] and a[1] >= b[1]) and (a[0] < b[0] or a[1] > b[1])
  return [i for i, p in enumerate(points)
          if not any(dominates(q, p) for j, q in enumerate(points) if j != i)]


def choose(points: Sequence[Sequence[float]]) -> int:
  """The index of the chosen trial: the smallest gap (ties: the higher
  utility, then the earlier trial). Non-finite points never win."""
  finite = [i for i, p in enumerate(points)
            if all(math.isfinite(x) for x in p)]
  if not finite:
    raise ValueError("no trial finished with finite objectives")
  return min(finite, key=lambda i: (points[i][0], -points[i][1], i))

"""The run's results record (`results_record`), and the one table
renderer every table uses (the run's comparison, `compare`'s and the
leaderboard's)."""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

from absl import logging
import jax

from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import results


def auc_progress(auc_original: float, auc_retrained: float,
                 auc_unlearned: float) -> float | None:
  """Fraction of the way from the original's AUC to the retrained one's.

  1.0 = the unlearned model separates Df from Dr exactly as well as the
  retrained model; > 1 means it overshoots (forgets Df "more" than a model
  that never saw it). None when the two references coincide.

  Args:
    auc_original: the original model's Df-vs-Dr AUC.
    auc_retrained: the retrained model's.
    auc_unlearned: the unlearned model's.

  Returns:
    `(auc_unlearned - auc_original) / (auc_retrained - auc_original)`, a
    float (0: no progress; 1: the retrained model's AUC), or None when the
    two references are equal.
  """
  gap = auc_retrained - auc_original
  if abs(gap) < 1e-12:
    return None
  return (auc_unlearned - auc_original) / gap


def auc_progress_of(evals: dict, auc: str, method: str) -> float | None:
  """`auc_progress` of `method`'s model in `evals` (metrics by model name,
  with "original" and "retrained"), by the AUC named `auc` ("auc/cosine":
  its mean is `auc/cosine/mean`)."""
  auc = {k: v[f"{auc}/mean"] for k, v in evals.items()}
  return auc_progress(auc["original"], auc["retrained"], auc[method])


# MU-Bench's guard rail on the test-score drop in the overall score: 0.2,
# or 0.4 for gradient-ascent methods (which are expected to lose more).
MAX_DT_DROP, MAX_DT_DROP_GRADIENT_ASCENT = 0.2, 0.4


def results_record(exp, evals: dict, *, method: str, times: dict,
                   total_seconds: float, eval_seconds: dict | None = None,
                   gradient_ascent: bool = False) -> results.Results:
  """The run's results record (results.json): every model's metrics, its
  MU-Bench overall score and gaps to the retrained model, what the method
  moved (`Task.summary`), times, deletion set and config. `exp.task` reads
  the metrics; `gradient_ascent` widens the overall score's guard rail for
  the method's model."""
  task, d = exp.task, exp.deletion
  eval_seconds = eval_seconds or {}
  warn_not_computable(evals)
  retrained = task.headline_fractions(evals["retrained"])
  models = {}
  for k, metrics in evals.items():
    models[k] = results.ModelResults(
        metrics=metrics,
        overall=task.overall_score(
            metrics, evals["original"],
            max_dt_drop=MAX_DT_DROP_GRADIENT_ASCENT
            if k == method and gradient_ascent else MAX_DT_DROP),
        retrain_gap=None if k == "retrained" else mubench.retrain_gaps(
            task.headline_fractions(metrics), retrained),
        wall_seconds=times.get(k), eval_seconds=eval_seconds.get(k))
  return results.Results(
      task=task.name, dataset=exp.dataset_name, method=method,
      deletion=results.Deletion(
          unit=d.unit, ratio=d.ratio, seed=d.seed,
          num_forget_units=int(len(d.forget_ids)),
          num_forget_examples=round(len(d.forget_ids) * exp.texts_per_unit),
          num_retain_units=int(len(d.retain_ids)), sha256=d.sha256),
      models=models, summary=task.summary(evals, method),
      devices=[str(x) for x in jax.devices()], total_seconds=total_seconds,
      config=exp.config.to_dict())


MIA_REASON = f"mubench/mia/{mubench.NOT_COMPUTABLE}"


def warn_not_computable(evals: dict) -> None:
  """One warning line per reason the membership attack could not run on
  (the same sets give every model the same one): its metrics are NaN, and
  the run keeps the others."""
  for reason in sorted({m[MIA_REASON] for m in evals.values()
                        if m.get(MIA_REASON)}):
    logging.warning(
        "the membership attack (mubench/mia/*) is not computable with %s; "
        "it is reported as n/a and left out of the gaps to the retrained "
        "model (the members are the evaluated Dr examples, all of them "
        "with eval.max_dr_images = 0; the non-members the test split's)",
        reason)


class _NotComputable(float):
  """NaN that any format spec shows as "n/a": the tables format metrics
  with specs such as ".3f", which would print a metric that could not be
  computed as "nan" (and fail on None)."""

  def __new__(cls):
    return super().__new__(cls, math.nan)

  def __format__(self, spec: str) -> str:
    return "n/a"


NOT_COMPUTABLE = _NotComputable()


def table_metrics(metrics: dict) -> dict:
  """`metrics` for a table's cells: None and NaN as `NOT_COMPUTABLE`."""
  return {k: NOT_COMPUTABLE if v is None or (
      isinstance(v, float) and math.isnan(v)) else v
          for k, v in metrics.items()}


def model_columns(*columns: tuple[str, Callable[[dict], str]]
                  ) -> list[Column]:
  """Columns over `(name, results.ModelResults)` rows: the model's name,
  then `(title, fn(metrics) -> text)` for each of `columns` (a metric not
  computed shows as "n/a": `table_metrics`), then its time."""
  return ([Column("model", lambda r: r[0])]
          + [Column(t, lambda r, fn=fn: fn(table_metrics(r[1].metrics)))
             for t, fn in columns]
          + [Column("time s", lambda r: number(r[1].wall_seconds, ".0f"))])


def mean_std(metrics: dict, auc: str) -> str:
  """The AUC named `auc` ("auc/cosine") as "mean ± std"."""
  return f"{metrics[auc + '/mean']:.3f} ± {metrics[auc + '/std']:.3f}"


# What differs between two runs of the same config on any machine.
RUN_DEPENDENT_KEYS = frozenset({"wall_seconds", "eval_seconds",
                                "total_seconds", "seconds",
                                "prepare_seconds", "devices", "history"})


def differences(a: dict, b: dict, *,
                ignore: frozenset[str] = RUN_DEPENDENT_KEYS) -> list[str]:
  """The `/`-joined paths of the leaves where two results records differ
  (values compared exactly, NaN equal to NaN), the keys in `ignore` (times,
  devices, logged losses) left out at every depth: what "the same results"
  means when a change must not change behaviour."""

  def leaves(x, path=()):
    if isinstance(x, dict):
      for k, v in x.items():
        if k not in ignore:
          yield from leaves(v, path + (str(k),))
    elif isinstance(x, (list, tuple)):
      for i, v in enumerate(x):
        yield from leaves(v, path + (str(i),))
    else:
      yield "/".join(path), x

  la, lb = dict(leaves(a)), dict(leaves(b))
  same = lambda x, y: x == y or (isinstance(x, float) and isinstance(y, float)
                                 and x != x and y != y)
  missing = object()
  return sorted(k for k in la.keys() | lb.keys()
                if not same(la.get(k, missing), lb.get(k, missing)))


def percent(x: float | None) -> str:
  """A fraction as a whole percentage ("n/a" for None)."""
  return "n/a" if x is None else f"{round(100 * x) + 0:d}%"


class Column(NamedTuple):
  """A table column: its title and how a row becomes its cell's text."""

  title: str
  cell: Callable[[Any], str]


def number(value: float | None, spec: str) -> str:
  """`value` formatted by `spec`, "-" for None."""
  return "-" if value is None else format(value, spec)


def setting_text(setting: dict) -> str:
  """`lr=0.0003, retain=head`: a setting's dotted keys by their last part,
  numbers to 3 significant digits, other values as they are."""
  return ", ".join(
      f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, (int, float))
      and not isinstance(v, bool) else f"{k.split('.')[-1]}={v}"
      for k, v in setting.items())


def render(columns: Sequence[Column], rows: Sequence[Any], *,
           markdown: bool = False) -> list[str]:
  """The lines of a table of `rows`: plain fixed-width text (a header, a
  rule, one line per row), or Markdown."""
  head = [c.title for c in columns]
  body = [[c.cell(r) for c in columns] for r in rows]
  if markdown:
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(cells) + " |" for cells in body])
  return _fixed_width(head, body)


def _fixed_width(head, rows) -> list[str]:
  widths = [max(len(str(r[i])) for r in [head] + rows)
            for i in range(len(head))]
  fmt = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths))
  return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]

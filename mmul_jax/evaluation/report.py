"""results.json records, and the one table renderer every table uses
(the run's comparison, `compare`'s and the leaderboard's)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax

from mmul_jax.evaluation import mubench


def auc_progress(auc_original: float, auc_retrained: float,
                 auc_unlearned: float) -> float | None:
  """Fraction of the way from the original's AUC to the retrained one's.

  1.0 = the unlearned model separates Df from Dr exactly as well as the
  retrained model; > 1 means it overshoots (forgets Df "more" than a model
  that never saw it). None when the two references coincide.
  """
  gap = auc_retrained - auc_original
  if abs(gap) < 1e-12:
    return None
  return (auc_unlearned - auc_original) / gap


def auc_progress_of(evals: dict, auc_key: str, method: str) -> float | None:
  """`auc_progress` of `method`'s model in `evals` (evaluations by model
  name, with "original" and "retrained"), by the AUC `evals[*][auc_key]`."""
  auc = {k: v[auc_key]["mean"] for k, v in evals.items()}
  return auc_progress(auc["original"], auc["retrained"], auc[method])


# MU-Bench's guard rail on the test-score drop in the overall score: 0.2,
# or 0.4 for gradient-ascent methods (which are expected to lose more).
MAX_DT_DROP, MAX_DT_DROP_GRADIENT_ASCENT = 0.2, 0.4


def results_record(exp, evals: dict, *, method: str, times: dict,
                   total_seconds: float, eval_seconds: dict | None = None,
                   gradient_ascent: bool = False) -> dict:
  """The run's results.json: every model's evaluation, the task's summary
  (`Task.summary`, headline metrics, MU-Bench's overall score and the gaps
  to the retrained model), times, deletion set and config. `exp.task`
  reads the evaluations; `gradient_ascent` widens the overall score's
  guard rail for the method's model."""
  task, d = exp.task, exp.deletion
  per_unit = exp.texts_per_unit
  models = {k: {**v, "wall_seconds": times.get(k)} for k, v in evals.items()}
  summary = task.summary(evals, method)
  headline = {k: task.headline_metrics(v) for k, v in evals.items()}
  summary["metrics"] = headline
  summary["overall"] = {
      k: task.overall_score(
          v, evals["original"],
          max_dt_drop=MAX_DT_DROP_GRADIENT_ASCENT
          if k == method and gradient_ascent else MAX_DT_DROP)
      for k, v in evals.items()}
  summary["retrain_gap"] = {
      k: mubench.retrain_gaps(headline[k], headline["retrained"])
      for k in evals if k != "retrained"}
  if eval_seconds is not None:
    summary["seconds"] = {
        k: {"unlearn": times.get(k), "evaluate": eval_seconds.get(k),
            "with_evaluation": (times.get(k) or 0.0)
            + (eval_seconds.get(k) or 0.0)} for k in evals}
  return {
      "task": task.name,
      "dataset": exp.dataset_name,
      "method": method,
      "deletion": {"unit": d.unit, "ratio": d.ratio, "seed": d.seed,
                   "num_forget_images": int(len(d.forget_ids)),
                   "num_forget_pairs": round(len(d.forget_ids) * per_unit),
                   "num_retain_images": int(len(d.retain_ids)),
                   "sha256": d.sha256},
      "models": models,
      "summary": summary,
      "devices": [str(x) for x in jax.devices()],
      "total_seconds": total_seconds,
      "config": exp.config.to_dict(),
  }


def model_columns(*columns: tuple[str, Callable[[dict], str]]
                  ) -> list[Column]:
  """Columns over `(name, model results)` rows: the model's name, then
  `(title, fn(model results) -> text)` for each of `columns`, then its
  time."""
  secs = lambda m: number(m.get("wall_seconds"), ".0f")
  return ([Column("model", lambda r: r[0])]
          + [Column(t, lambda r, fn=fn: fn(r[1])) for t, fn in columns]
          + [Column("time s", lambda r: secs(r[1]))])


def mean_std(stats: dict) -> str:
  """An AUC's "mean ± std"."""
  return f"{stats['mean']:.3f} ± {stats['std']:.3f}"


# What differs between two runs of the same config on any machine.
RUN_DEPENDENT_KEYS = frozenset({"wall_seconds", "total_seconds", "seconds",
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

"""Every method on the same deletion set, with the same tuning budget.

Each method gets the settings of its `Method.grid` (`grid()`: three per
method, except retrain, which has nothing to tune), on the same original model, deletion set and
step count. The setting reported for a method is chosen without test data,
by one of `SELECTION_RULES`:

* `retrain_gap` (default): the smallest mean absolute difference from the
  retrained model in the task's score on Df and on Dr (recall@1 for
  retrieval, accuracy for classification; as fractions) and the Df-vs-Dr
  AUC. Forgetting *more* than the retrained model is as visible
  as forgetting less, so this rule does not reward wrecking the model.
* `reference`: MultiDelete's rule, ½ (utility + AUC), with recall@1 on Dr
  as the utility (accuracy on Dr for classification). It rewards an AUC above the retrained model's, which
  methods reach by destroying the model (see CHANGELOG.md).

Runs are cached in the workdir like any unlearning run, so an interrupted
comparison resumes where it stopped.
"""

import contextlib
import io
import os
import time

from mmul_jax import experiment
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax import workdir_lock
from mmul_jax.evaluation import report
from mmul_jax.unlearn import run as run_lib


def grid() -> dict[str, list[dict]]:
  """The tuning budget: per registered method, the settings tried (dotted
  config keys), from its `Method.grid`."""
  return {name: [dict(s) for s in m.grid]
          for name, m in methods.METHODS.items()}



def reference_score(row: dict, retrained: dict) -> float:
  """Higher is better: ½ (score on Dr + AUC)."""
  del retrained
  return 0.5 * (row["dr"] / 100.0 + row["auc"])


def retrain_gap(row: dict, retrained: dict) -> float:
  """Lower is better: mean |Δ| to retrained of the Df and Dr scores and the
  AUC."""
  return (abs(row["df"] - retrained["df"]) / 100.0
          + abs(row["dr"] - retrained["dr"]) / 100.0
          + abs(row["auc"] - retrained["auc"])) / 3.0


# name -> (function of (row, retrained row), True if higher is better)
SELECTION_RULES = {"retrain_gap": (retrain_gap, False),
                   "reference": (reference_score, True)}


def _row(name: str, setting: dict, results) -> dict:
  """One run's scores in % ("test", "df", "dr": mean recall@1 by cosine
  for retrieval, accuracy for classification, titled by "score"), and its
  headline AUC (titled by "auc_title"), from its `results.Results`."""
  m = results.models[name]
  task = tasks.for_results(results)
  auc = task.aucs[0]
  return {
      "method": name, "setting": setting,
      "auc": m.metrics[f"{auc}/mean"], "auc_std": m.metrics[f"{auc}/std"],
      "auc_title": _title(task, f"{auc}/mean"),
      "auc_progress": results.summary[f"progress/{auc}"],
      "seconds": m.wall_seconds, "score": task.score,
      **task.comparison_row(m.metrics)}


def _title(task, name: str) -> str:
  return next(m.title for m in task.headline if m.name == name)


def compare(config, workdir: str, names=None, quiet: bool = True,
            rule: str = "retrain_gap") -> dict:
  """Runs the grid; returns and writes `comparison.json`; prints a table."""
  if rule not in SELECTION_RULES:
    raise ValueError(f"unknown selection rule {rule!r}; use one of "
                     f"{sorted(SELECTION_RULES)}")
  names = names or list(grid())
  with workdir_lock.scope():  # held from the first run to the last
    experiment.lock_workdir(config, workdir)
    return _compare(config, workdir, names, quiet, rule)


def _compare(config, workdir: str, names, quiet: bool, rule: str) -> dict:
  rows, references = [], None
  settings = grid()
  for name in names:
    for setting in settings[name]:
      c = config.copy_and_resolve_references()
      c.method.name = name
      c.update_from_flattened_dict(setting)
      t0 = time.perf_counter()
      sink = io.StringIO()
      with contextlib.redirect_stdout(sink) if quiet else \
          contextlib.nullcontext():
        results = run_lib.run(c, workdir)
      rows.append(_row(name, setting, results))
      references = {k: _row(k, {}, results) for k in ("original",
                                                      "retrained")}
      print(f"{name} {setting}: {time.perf_counter() - t0:.0f} s", flush=True)
  return select(rows, references, rule, workdir)


def select(rows: list[dict], references: dict, rule: str,
           workdir: str | None = None) -> dict:
  """Scores every run by every rule; picks one setting per method by `rule`."""
  retrained = references["retrained"]
  for r in [*rows, *references.values()]:
    r["scores"] = {k: fn(r, retrained) for k, (fn, _) in
                   SELECTION_RULES.items()}
  higher_better = SELECTION_RULES[rule][1]
  key = lambda r: r["scores"][rule] if higher_better else -r["scores"][rule]
  best = {}
  for r in rows:
    if r["method"] not in best or key(r) > key(best[r["method"]]):
      best[r["method"]] = r
  settings = grid()
  out = {"rule": rule, "grid": {n: settings.get(n) for n in best},
         "runs": rows,
         "selected": best, "references": references}
  if workdir:
    io_utils.atomic_write_json(os.path.join(workdir, "comparison.json"), out)
  print(markdown_table(out))
  return out


def markdown_table(comparison: dict) -> str:
  """The references and each method's selected setting, as Markdown."""
  score = comparison["references"]["retrained"]["score"]
  num = report.number
  columns = [
      report.Column("model", lambda row: row[0]),
      report.Column("setting", lambda row: row[2]),
      report.Column(f"test {score}", lambda row: num(row[1]["test"], ".1f")),
      report.Column("re-ranked",
                    lambda row: num(row[1]["test_rerank"], ".1f")),
      report.Column(f"Df {score}", lambda row: num(row[1]["df"], ".1f")),
      report.Column(f"Dr {score}", lambda row: num(row[1]["dr"], ".1f")),
      report.Column(comparison["references"]["retrained"]["auc_title"],
                    lambda row: f"{row[1]['auc']:.3f} ± "
                    f"{row[1]['auc_std']:.3f}"),
      report.Column("AUC match", lambda row: num(row[1]["auc_match"], ".3f")),
      report.Column("gap to retrain",
                    lambda row: f"{row[1]['scores']['retrain_gap']:.3f}"),
      report.Column("time s", lambda row: num(row[1]["seconds"], ".0f")),
  ]
  rows = [(name, r, "reference")
          for name, r in (comparison["references"] or {}).items()]
  rows += [(name, r, ", ".join(f"{k.split('.')[-1]}={v:g}" for k, v in
                                r["setting"].items()) or "-")
           for name, r in comparison["selected"].items()]
  return "\n".join(report.render(columns, rows, markdown=True))

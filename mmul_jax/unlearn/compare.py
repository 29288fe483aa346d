"""Every method on the same deletion set, with the same tuning budget.

Each method gets the settings of `GRID` (three per method, except retrain,
which has nothing to tune), on the same original model, deletion set and
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
from mmul_jax import workdir_lock
from mmul_jax.evaluation import report
from mmul_jax.unlearn import run as run_lib

LRS = (1e-4, 3e-4, 1e-3)
# The tuning budget: for each method, the settings tried (dotted config keys).
GRID = {
    **{name: [{"unlearn.learning_rate": lr} for lr in LRS]
       for name in methods.METHODS},
    "retrain": [{}],
    # SGD needs larger steps than AdamW for a comparable distance moved.
    "dtd": [{"unlearn.learning_rate": lr} for lr in (1e-2, 3e-2, 1e-1)],
    # One-shot noise: the learning rate plays no part; α scales the noise.
    "fisher": [{"method.fisher.alpha": a} for a in (1e-8, 1e-7, 1e-6)],
}


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


def _row(name: str, setting: dict, results: dict) -> dict:
  """One run's scores in % ("test", "df", "dr": mean recall@1 by cosine
  for retrieval, accuracy for classification, named by "score")."""
  m = results["models"][name]
  common = {
      "method": name, "setting": setting,
      "auc": m["df_vs_dr_auc"]["mean"], "auc_std": m["df_vs_dr_auc"]["std"],
      "auc_progress": results["summary"]["df_vs_dr_auc_progress"],
      "seconds": m["wall_seconds"]}
  if report.is_classification(m):
    return {**common, "score": "accuracy",
            **{s: m[s]["accuracy"] for s in ("test", "df", "dr")},
            "test_rerank": None, "auc_match": None}
  return {**common, "score": "R@1",
          **{s: m[s]["itc"]["r1_mean"] for s in ("test", "df", "dr")},
          "test_rerank": (m["test"].get("itm") or {}).get("r1_mean"),
          "auc_match": m["df_vs_dr_auc_itm"]["mean"]}


def compare(config, workdir: str, names=None, quiet: bool = True,
            rule: str = "retrain_gap") -> dict:
  """Runs the grid; returns and writes `comparison.json`; prints a table."""
  if rule not in SELECTION_RULES:
    raise ValueError(f"unknown selection rule {rule!r}; use one of "
                     f"{sorted(SELECTION_RULES)}")
  names = names or list(GRID)
  with workdir_lock.scope():  # held from the first run to the last
    experiment.lock_workdir(config, workdir)
    return _compare(config, workdir, names, quiet, rule)


def _compare(config, workdir: str, names, quiet: bool, rule: str) -> dict:
  rows, references = [], None
  for name in names:
    for setting in GRID[name]:
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
  out = {"rule": rule, "grid": {n: GRID.get(n) for n in best}, "runs": rows,
         "selected": best, "references": references}
  if workdir:
    io_utils.atomic_write_json(os.path.join(workdir, "comparison.json"), out)
  print(markdown_table(out))
  return out


def markdown_table(comparison: dict) -> str:
  score = comparison["references"]["retrained"]["score"]
  auc = "AUC cosine" if score == "R@1" else "AUC p(y)"
  head = ("model", "setting", f"test {score}", "re-ranked", f"Df {score}",
          f"Dr {score}", auc, "AUC match", "gap to retrain", "time s")
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  fmt = lambda x, spec: "-" if x is None else format(x, spec)

  def line(name, r, setting):
    lines.append(
        f"| {name} | {setting} | {r['test']:.1f} | "
        f"{fmt(r['test_rerank'], '.1f')} | {r['df']:.1f} | {r['dr']:.1f} | "
        f"{r['auc']:.3f} ± {r['auc_std']:.3f} | "
        f"{fmt(r['auc_match'], '.3f')} | "
        f"{r['scores']['retrain_gap']:.3f} | {r['seconds']:.0f} |")

  for name, r in (comparison["references"] or {}).items():
    line(name, r, "reference")
  for name, r in comparison["selected"].items():
    setting = ", ".join(f"{k.split('.')[-1]}={v:g}" for k, v in
                        r["setting"].items()) or "-"
    line(name, r, setting)
  return "\n".join(lines)

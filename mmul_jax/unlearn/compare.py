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
  methods reach by destroying the model (docs/experiments/releases_0_1_0_2.md,
  0.2.0 "Method comparison").

Runs are cached in the workdir like any unlearning run, so an interrupted
comparison resumes where it stopped.

With `robustness=True`, each method's selected setting then goes through
the robustness check (`unlearn.robustness`: the attacks of
`config.robustness`): the table gains, per attack, the mean recovery
score over the task's forgetting metrics (1: the attack moved it as it
moved the retrained model), and robustness.png plots them.

With `shadow_models=K` (K >= 3), each method's selected setting is then
audited against K retrained models (`unlearn.shadow`, K models per kind
under vmap): the table gains the U-LiRA AUC of the method's worst
representation and the KS forget quality, and `rank_by="ulira"` orders
the methods by closeness to retraining on that audit.
"""

import contextlib
import io
import os
import time

from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax import workdir_lock
from mmul_jax.data import datasets
from mmul_jax.evaluation import report
from mmul_jax.unlearn import robustness as robustness_lib
from mmul_jax.unlearn import run as run_lib
from mmul_jax.unlearn import shadow
from mmul_jax.unlearn import tune


def grid(tuned: str | None = None) -> dict[str, list[dict]]:
  """The tuning budget: per registered method, the settings tried (dotted
  config keys), from its `Method.grid`; with `tuned` (a `tuned.json` of
  scripts/tune.py), the one setting tuned for each method it holds."""
  out = {name: [dict(s) for s in m.grid]
         for name, m in methods.METHODS.items()}
  if tuned:
    out.update({name: [dict(s)] for name, s in
                tune.read_settings(tuned).items()})
  return out


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
      "extra": {x.title: m.metrics[x.name] for x in task.compare_extra},
      **task.comparison_row(m.metrics)}


def _title(task, name: str) -> str:
  return next(m.title for m in task.headline if m.name == name)


RANK_BY = ("selection", "ulira")


def compare(config, workdir: str, names=None, quiet: bool = True,
            rule: str = "retrain_gap", shadow_models: int = 0,
            rank_by: str = "selection", tuned: str | None = None,
            robustness: bool = False) -> dict:
  """Runs the grid; returns and writes `comparison.json`; prints a table.
  With `shadow_models`, audits the selected settings (module docstring);
  with `tuned` (a tuned.json), runs each method it holds at its one tuned
  setting instead of its grid."""
  settings = grid(tuned)  # a bad file fails before any compute
  if rule not in SELECTION_RULES:
    raise ValueError(f"unknown selection rule {rule!r}; use one of "
                     f"{sorted(SELECTION_RULES)}")
  if rank_by not in RANK_BY:
    raise errors.ConfigError(f"rank_by must be one of {RANK_BY}, got "
                             f"{rank_by!r}")
  if shadow_models and shadow_models < 3 or rank_by == "ulira" and (
      not shadow_models):
    raise errors.ConfigError(
        "the shadow audit needs shadow_models >= 3 (U-LiRA fits each "
        f"example's scores over the other models), got {shadow_models}; "
        "ranking by U-LiRA needs the audit")
  if shadow_models:  # what the audit refuses, before the grid runs
    shadow.check_config(config, shadow_models, key="shadow_models")
  names = names or runnable(config, settings)
  with workdir_lock.scope():  # held from the first run to the last
    experiment.lock_workdir(config, workdir)
    out = _compare(config, workdir, names, quiet, rule, settings)
    out["tuned"] = tuned
    if shadow_models:
      audit_selected(config, workdir, out, shadow_models, quiet)
    if robustness:
      attack_selected(config, workdir, out, quiet)
  rank(out, rank_by)
  io_utils.atomic_write_json(os.path.join(workdir, "comparison.json"), out)
  print(markdown_table(out))
  return out


def rank(comparison: dict, rank_by: str) -> None:
  """Sets the table's order of methods (key "order", since the JSON file
  keeps keys sorted): as the methods were run ("selection"), or closest
  to retraining first by the shadow audit's U-LiRA distance ("ulira",
  `leakage.distance`)."""
  order = list(comparison["selected"])
  if rank_by == "ulira":
    order.sort(key=lambda m: comparison["selected"][m]["shadow"]["distance"])
  comparison["order"], comparison["rank_by"] = order, rank_by


def audit_selected(config, workdir: str, comparison: dict, k: int,
                   quiet: bool = True) -> None:
  """Runs the shadow audit of every selected setting with K models per
  kind and adds its ranking row to each selected row (key "shadow") and
  the ranking to the comparison (key "shadow")."""
  c = config.copy_and_resolve_references()
  c.shadow.num_models = k
  c.shadow.methods = tuple(comparison["selected"])
  settings = {m: r["setting"] for m, r in comparison["selected"].items()}
  sink = io.StringIO()
  with contextlib.redirect_stdout(sink) if quiet else \
      contextlib.nullcontext():
    record = shadow.run(c, workdir, settings)
  by_model = {r["model"]: r for r in record["ranking"]}
  for m, row in comparison["selected"].items():
    row["shadow"] = by_model[m]
  comparison["references"]["original"]["shadow"] = by_model["original"]
  comparison["shadow"] = {"num_models": k, "seeds": record["seeds"],
                          "ranking": record["ranking"],
                          "leak_auc": record["leak_auc"]}


def attack_selected(config, workdir: str, comparison: dict,
                    quiet: bool = True) -> None:
  """The robustness check of every selected setting: adds to each
  selected row (and the original's) its mean recovery score per attack
  over the forgetting metrics (key "robustness"), the attacks to the
  comparison, and writes robustness.png."""
  summary = {}
  for name, row in comparison["selected"].items():
    c = config.copy_and_resolve_references()
    c.method.name = name
    c.update_from_flattened_dict(dict(row["setting"]))
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else \
        contextlib.nullcontext():
      record = robustness_lib.check(c, workdir)
    for attack, by_model in record["forgetting_recovery"].items():
      summary.setdefault(attack, {}).update(by_model)
    row["robustness"] = {a: m[name] for a, m in
                         record["forgetting_recovery"].items()}
    comparison["references"]["original"]["robustness"] = {
        a: m["original"] for a, m in record["forgetting_recovery"].items()}
  comparison["robustness"] = {"attacks": list(summary)}
  robustness_lib.plot(summary, os.path.join(workdir, "robustness.png"),
                      "methods under attack: mean recovery of forgetting")


def runnable(config, settings: dict) -> list[str]:
  """The methods of `settings` that the config's task takes (MMUL needs
  two modalities; the language-model methods a generation task); the
  others are named once, not run."""
  task = tasks.for_dataset(datasets.spec_of(config.data))
  out, skipped = [], []
  for name in settings:
    why = methods.get(name).task_problems(config.method.get(name), task)
    (skipped if why else out).append(name)
  if skipped:
    print(f"not compared, refused by the {task.name} task: "
          f"{', '.join(skipped)}", flush=True)
  return out


def _compare(config, workdir: str, names, quiet: bool, rule: str,
             settings: dict) -> dict:
  rows, references = [], None
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
  return select(rows, references, rule, settings)


def select(rows: list[dict], references: dict, rule: str,
           settings: dict | None = None) -> dict:
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
  settings = settings or grid()
  out = {"rule": rule, "grid": {n: settings.get(n) for n in best},
         "runs": rows,
         "selected": best, "references": references}
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
      *(report.Column(title, lambda row, t=title: num(
          row[1].get("extra", {}).get(t), ".3g"))
        for title in comparison["references"]["retrained"].get("extra", {})),
      report.Column("time s", lambda row: num(row[1]["seconds"], ".0f")),
  ]
  for attack in comparison.get("robustness", {}).get("attacks", ()):
    columns.append(report.Column(f"R {attack}", lambda row, a=attack: (
        report.number(row[1].get("robustness", {}).get(a), ".2f"))))
  if "shadow" in comparison:
    k = comparison["shadow"]["num_models"]
    shadow_row = lambda row: row[1].get("shadow")
    columns += [
        report.Column(f"U-LiRA AUC (worst rep, K={k})", lambda row: (
            f"{shadow_row(row)['ulira_auc']:.3f} "
            f"({shadow_row(row)['worst']})" if shadow_row(row) else "-")),
        report.Column("KS p Df", lambda row: (
            f"{shadow_row(row)['ks_df_worst']:.2g}" if shadow_row(row)
            else "-")),
        report.Column("leaks in", lambda row: (
            ", ".join(shadow_row(row)["leaks"]) or "none")
            if shadow_row(row) else "-")]
  rows = [(name, r, "reference")
          for name, r in (comparison["references"] or {}).items()]
  selected = comparison["selected"]
  rows += [(name, selected[name],
            report.setting_text(selected[name]["setting"]) or "-")
           for name in comparison.get("order", selected)]
  return "\n".join(report.render(columns, rows, markdown=True))

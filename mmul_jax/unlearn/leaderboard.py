"""The benchmark's report: a Markdown leaderboard and PNG plots.

Every figure is a mean ± std over the deletion seeds of one (task,
dataset, method, width, strategy, ratio). A grid over several datasets
also gets MU-Bench's cross-task summary: each method's rank per dataset
and its average rank across them (`ranks`). The columns are the task's headline
metrics (`Task.headline`, by flat name in their own units), the overall
score, the gap to retraining and the time. Forgetting metrics are judged by
their distance to the retrained model (forgetting more than a model that
never saw Df is over-forgetting, not success); the test score and the
overall score by their value.
"""

from __future__ import annotations

import collections
import os

import numpy as np

from mmul_jax import io_utils
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.evaluation import report

# After the task's headline metrics (`Task.headline`), every leaderboard
# has these columns.
EXTRA_COLUMNS = (tasks.Metric("overall", "overall (HM)", best="higher"),
                 tasks.Metric("gap", "gap to retrain", best="lower"),
                 tasks.Metric("seconds", "unlearn s", best="lower"))
REFERENCES = ("original", "retrained")


# A grid run with `benchmark.robustness`: per attack, the model's mean
# recovery score over the forgetting metrics (`unlearn.robustness`).
ROBUSTNESS_PREFIX = "R "


def columns(task: str, models: dict | None = None
            ) -> tuple[tasks.Metric, ...]:
  """The leaderboard's columns for a task kind: its headline metrics, the
  overall score, the gap to retraining and the unlearning time, then the
  recovery score under each attack that `models` (`{model: values or
  stats}`) has."""
  attacks = sorted({k for v in (models or {}).values() for rows in (
      v if isinstance(v, list) else [v]) for k in rows
                    if k.startswith(ROBUSTNESS_PREFIX)})
  return tasks.get(task).headline + EXTRA_COLUMNS + tuple(
      tasks.Metric(k, k, best="higher") for k in attacks)


def _values(record: dict, model: str) -> dict:
  """A model's columns in one record (`benchmark.check_record`); a value
  that older records lack (a gap, a time) is None, skipped."""
  m = dict(record["metrics"][model])
  m["overall"] = record["overall"].get(model)
  if model in REFERENCES:
    m["gap"] = 0.0 if model == "retrained" else None
    m["seconds"] = (record["seconds"].get("retrain")
                    if model == "retrained" else None)
  else:
    m["gap"] = (record["retrain_gap"] or {}).get("mean")
    m["seconds"] = record["seconds"].get("unlearn")
  for attack, by_model in (record.get("robustness") or {}).items():
    m[ROBUSTNESS_PREFIX + attack] = by_model.get(model)
  return m


def aggregate(records: list[dict]) -> dict:
  """`{(task, dataset, width, strategy, ratio): {model: {metric: (mean,
  std, n)}}}`; the references are averaged over every record of their
  deletion sets. Records written before they named their dataset group
  under ""."""
  groups = collections.defaultdict(lambda: collections.defaultdict(list))
  seen_refs = set()
  for r in records:
    group = (r["task"], r.get("dataset", ""), r["width"], r["strategy"],
             r["ratio"])
    groups[group][r["method"]].append(_values(r, r["method"]))
    ref_key = (group, r["seed"])
    if ref_key not in seen_refs:  # one reference row per deletion set
      seen_refs.add(ref_key)
      for ref in REFERENCES:
        groups[group][ref].append(_values(r, ref))
  out = {}
  for group, models in groups.items():
    out[group] = {}
    for model, rows in models.items():
      stats = {}
      for metric in columns(group[0], models):
        vals = [row[metric.name] for row in rows
                if row.get(metric.name) is not None]
        if vals:
          stats[metric.name] = (float(np.mean(vals)), float(np.std(vals)),
                                len(vals))
      out[group][model] = stats
  return out


def winners(task: str, models: dict) -> dict:
  """Per column title, the best method (references excluded)."""
  retrained = models.get("retrained", {})
  out = {}
  for metric in columns(task, models):
    key = metric.name
    cands = {m: s[key][0] for m, s in models.items()
             if m not in REFERENCES and key in s}
    if not cands:
      continue
    if metric.best is None:
      if key not in retrained:
        continue
      target = retrained[key][0]
      best = min(cands, key=lambda m: abs(cands[m] - target))
    else:
      best = (max if metric.best == "higher" else min)(cands, key=cands.get)
    out[metric.title] = best
  return out


def _cell(stats: dict, metric: tasks.Metric) -> str:
  if metric.name not in stats:
    return "-"
  mean, std, n = stats[metric.name]
  digits = 1 if metric.name == "seconds" else metric.digits
  text = f"{mean:.{digits}f}"
  return text + (f" ± {std:.{digits}f}" if n > 1 else "")


def markdown(agg: dict) -> str:
  lines = ["# Benchmark leaderboard", "",
           "Mean ± std over deletion seeds. Forgetting metrics (Df/Dr R@1 "
           "or accuracy, AUCs, knowledge gap, ZRF, MIA) are best when "
           "closest to the "
           "retrained model; **bold** marks the best method per column.",
           ""]
  for group in sorted(agg):
    task, dataset, width, strategy, ratio = group
    models = agg[group]
    best = winners(task, models)
    present = [c for c in columns(task, models)
               if any(c.name in stats for stats in models.values())]

    def cell(model, metric, models=models, best=best):
      text = _cell(models[model], metric)
      return f"**{text}**" if best.get(metric.title) == model else text

    table = [report.Column("model", lambda model: model)] + [
        report.Column(metric.title,
                      lambda model, metric=metric: cell(model, metric))
        for metric in present]
    order = [m for m in REFERENCES if m in models] + sorted(
        m for m in models if m not in REFERENCES)
    where = f"{dataset} ({_modality(dataset)}, {task})" if dataset else task
    lines += [f"## {where}: {ratio:g}% deleted, {strategy} Df, width "
              f"{width}", ""]
    lines += report.render(table, order, markdown=True)
    lines += ["", "Best per metric: " + "; ".join(
        f"{t}: {m}" for t, m in best.items()) + ".", ""]
  if len({g[1] for g in agg}) > 1:
    lines += cross_task_markdown(agg)
  return "\n".join(lines)


def _modality(dataset: str) -> str:
  """"image", "text", "audio", "video", "image+text", "graph+text"."""
  spec = datasets.DATASETS.get(dataset.partition("@")[0])  # @backbone
  if spec is None:
    return "?"
  if spec.unimodal:
    return spec.modality
  # A molecule is the record itself: one unit input, no image keys.
  return f"{spec.modality}+" * max(1, len(spec.image_keys)) + "text"


# What the cross-task ranking orders methods by: closeness to the
# retrained model (lower gap) and MU-Bench's overall score (higher).
RANKED_BY = (tasks.Metric("gap", "gap to retrain", best="lower"),
             tasks.Metric("overall", "overall (HM)", best="higher"))


def ranks(agg: dict) -> dict:
  """`{metric name: {method: {dataset: rank}}}` (1 is best; ties share
  the mean rank), each dataset's ranks averaged over its groups (ratios,
  strategies, widths), references excluded; and under "average" the mean
  rank of each method over the datasets it ran on."""
  out = {}
  for metric in RANKED_BY:
    per = collections.defaultdict(lambda: collections.defaultdict(list))
    for group, models in agg.items():
      vals = {m: s[metric.name][0] for m, s in models.items()
              if m not in REFERENCES and metric.name in s}
      if not vals:
        continue
      sign = 1.0 if metric.best == "lower" else -1.0
      order = sorted(vals, key=lambda m: sign * vals[m])
      rank = {}
      for m in order:  # ties share the mean of their positions
        tied = [k + 1 for k, o in enumerate(order) if vals[o] == vals[m]]
        rank[m] = float(np.mean(tied))
      for m, r in rank.items():
        per[m][group[1]].append(r)
    table = {m: {d: float(np.mean(r)) for d, r in by.items()}
             for m, by in per.items()}
    for m, by in table.items():
      by["average"] = float(np.mean(list(by.values())))
    out[metric.name] = table
  return out


def cross_task_markdown(agg: dict) -> list[str]:
  """MU-Bench's summary of a grid over datasets: per ranked metric, each
  method's rank on every dataset and its average rank."""
  all_ranks = ranks(agg)
  names = sorted({g[1] for g in agg})
  lines = ["## Across tasks", "",
           "Rank of each method per dataset (1 = best; mean over its "
           "ratios), and the average rank over the datasets it ran on "
           "(a method a task refuses, MMUL on one modality, has no rank "
           "there).", ""]
  for metric in RANKED_BY:
    table = all_ranks[metric.name]
    order = sorted(table, key=lambda m: table[m]["average"])
    cols = [report.Column("method", lambda m: m)] + [
        report.Column(f"{d} ({_modality(d)})",
                      lambda m, d=d, t=table: (f"{t[m][d]:.1f}" if d in t[m]
                                               else "-"))
        for d in names] + [
        report.Column("average rank",
                      lambda m, t=table: f"**{t[m]['average']:.2f}**")]
    lines += [f"### by {metric.title} ({metric.best} is better)", ""]
    lines += report.render(cols, order, markdown=True) + [""]
  return lines


def _panels(task: str) -> tuple[tasks.Metric, ...]:
  """The plotted metrics: the task's score on test and on Df, its
  headline AUC, the gap to retraining, the overall score and the time."""
  t = tasks.get(task)
  by_name = {m.name: m for m in columns(task)}
  return tuple(by_name[n] for n in (
      f"test/{t.score_metric}", f"df/{t.score_metric}", f"{t.aucs[0]}/mean",
      "gap", "overall", "seconds"))


def plots(agg: dict, directory: str) -> list[str]:
  """`metric_vs_ratio_*.png` per (task, width, strategy) and
  `tradeoff.png`."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  written = []
  settings = sorted({g[:4] for g in agg})
  several_tasks = len({g[:2] for g in agg}) > 1
  for task, dataset, width, strategy in settings:
    ratios = sorted(g[4] for g in agg if g[:4] == (task, dataset, width,
                                                   strategy))
    key = lambda r: (task, dataset, width, strategy, r)
    models = sorted({m for r in ratios for m in agg[key(r)]})
    # One colour per model in every panel (some panels skip references).
    colour = {m: f"C{i % 10}" for i, m in enumerate(models)}
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, metric in zip(axes.ravel(), _panels(task)):
      for model in models:
        pts = [(r, agg[key(r)][model][metric.name]) for r in ratios
               if metric.name in agg[key(r)].get(model, {})]
        if not pts:
          continue
        x = [p[0] for p in pts]
        y = np.array([p[1][0] for p in pts])
        e = np.array([p[1][1] for p in pts])
        style = "--" if model in REFERENCES else "-"
        ax.errorbar(x, y, yerr=e, fmt=style + "o", ms=3, capsize=2,
                    color=colour[model], label=model)
      ax.set_xlabel("deletion ratio (%)")
      ax.set_ylabel(metric.title)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{dataset or task}: metrics vs deletion ratio ({strategy} "
                 f"Df, width {width})")
    fig.tight_layout()
    name = f"metric_vs_ratio_w{width}_{strategy}.png"
    if several_tasks:
      name = f"{dataset or task}_{name}"
    path = os.path.join(directory, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

  fig, ax = plt.subplots(figsize=(7, 5))
  markers = "osD^v<>p*h"
  groups = sorted(agg)
  models = sorted({m for g in groups for m in agg[g]})
  colour = {m: f"C{i % 10}" for i, m in enumerate(models)}
  titles = set()
  for i, group in enumerate(groups):  # marker: deletion set; colour: model
    utility = _panels(group[0])[0]
    titles.add(utility.title)
    for model, stats in agg[group].items():
      if "gap" not in stats or utility.name not in stats:
        continue
      point = (stats["gap"][0], stats[utility.name][0])
      ax.scatter(*point, marker=markers[i % len(markers)], s=30,
                 color=colour[model], label=model if i == 0 else None)
      ax.annotate(f"{group[4]:g}%", point, fontsize=6)
  ax.legend(fontsize=7)
  ax.set_xlabel("gap to the retrained model (lower: closer)")
  ax.set_ylabel(" / ".join(sorted(titles)))
  ax.set_title("forgetting quality vs utility")
  fig.tight_layout()
  path = os.path.join(directory, "tradeoff.png")
  fig.savefig(path, dpi=110)
  plt.close(fig)
  written.append(path)
  return written


def write_report(records: list[dict], directory: str) -> dict:
  """leaderboard.md, leaderboard.json and the plots, in `directory`."""
  agg = aggregate(records)
  text = markdown(agg)
  io_utils.atomic_write_text(os.path.join(directory, "leaderboard.md"), text)
  io_utils.atomic_write_json(
      os.path.join(directory, "leaderboard.json"),
      {"groups": [{"task": t, "dataset": d, "width": w, "strategy": s,
                   "ratio": r, "models": models,
                   "winners": winners(t, models)}
                  for (t, d, w, s, r), models in sorted(agg.items())],
       "ranks": ranks(agg)})
  return {"markdown": text, "plots": plots(agg, directory)}

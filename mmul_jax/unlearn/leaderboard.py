"""The benchmark's report: a Markdown leaderboard and PNG plots.

Every figure is a mean ± std over the deletion seeds of one (method,
width, strategy, ratio). Forgetting metrics are judged by their distance to
the retrained model (forgetting more than a model that never saw Df is
over-forgetting, not success); test recall and the overall score by their
value.
"""

from __future__ import annotations

import collections
import os

import numpy as np

from mmul_jax import io_utils
from mmul_jax.evaluation import report

# (key, column title, scale, higher is better; None: closest to retrained).
# Retrieval records have the R@1 columns and "AUC match", classification
# records the accuracy columns; a table shows the columns its records have.
COLUMNS = (
    ("test_r1", "test R@1", 100, True),
    ("test_acc", "test acc", 100, True),
    ("df_r1", "Df R@1", 100, None),
    ("df_acc", "Df acc", 100, None),
    ("dr_r1", "Dr R@1", 100, None),
    ("dr_acc", "Dr acc", 100, None),
    ("auc", "AUC", 1, None),
    ("auc_match", "AUC match", 1, None),
    ("knowledge_gap", "knowledge gap", 1, None),
    ("zrf", "ZRF", 1, None),
    ("mia_df_non_member", "MIA Df non-member", 1, None),
    ("overall", "overall (HM)", 1, True),
    ("gap", "gap to retrain", 1, False),
    ("seconds", "unlearn s", 1, False),
)
REFERENCES = ("original", "retrained")


def _first_present(keys, stats: dict):
  """The first of `keys` that `stats` holds (retrieval or classification
  flavour of a metric), or None."""
  return next((k for k in keys if k in stats), None)


def _values(record: dict, model: str) -> dict:
  m = dict(record["metrics"][model])
  m["overall"] = record["overall"][model]
  if model in REFERENCES:
    m["gap"] = 0.0 if model == "retrained" else None
    m["seconds"] = (record["seconds"]["retrain"] if model == "retrained"
                    else None)
  else:
    m["gap"] = record["retrain_gap"]["mean"]
    m["seconds"] = record["seconds"]["unlearn"]
  return m


def aggregate(records: list[dict]) -> dict:
  """`{(width, strategy, ratio): {model: {metric: (mean, std, n)}}}`; the
  references are averaged over every record of their deletion sets."""
  groups = collections.defaultdict(lambda: collections.defaultdict(list))
  seen_refs = set()
  for r in records:
    group = (r["width"], r["strategy"], r["ratio"])
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
      for key, *_ in COLUMNS:
        vals = [row[key] for row in rows if row.get(key) is not None]
        if vals:
          stats[key] = (float(np.mean(vals)), float(np.std(vals)), len(vals))
      out[group][model] = stats
  return out


def winners(models: dict) -> dict:
  """Per column, the best method (references excluded)."""
  retrained = models.get("retrained", {})
  out = {}
  for key, title, _, higher in COLUMNS:
    cands = {m: s[key][0] for m, s in models.items()
             if m not in REFERENCES and key in s}
    if not cands:
      continue
    if higher is None:
      if key not in retrained:
        continue
      target = retrained[key][0]
      best = min(cands, key=lambda m: abs(cands[m] - target))
    else:
      best = (max if higher else min)(cands, key=cands.get)
    out[title] = best
  return out


def _cell(stats: dict, key: str, scale: float) -> str:
  if key not in stats:
    return "-"
  mean, std, n = stats[key]
  digits = 1 if scale == 100 or key == "seconds" else 3
  text = f"{mean * scale:.{digits}f}"
  return text + (f" ± {std * scale:.{digits}f}" if n > 1 else "")


def markdown(agg: dict) -> str:
  lines = ["# Benchmark leaderboard", "",
           "Mean ± std over deletion seeds. Forgetting metrics (Df/Dr R@1 "
           "or accuracy, AUCs, knowledge gap, ZRF, MIA) are best when "
           "closest to the "
           "retrained model; **bold** marks the best method per column.",
           ""]
  for (width, strategy, ratio) in sorted(agg):
    models = agg[(width, strategy, ratio)]
    best = winners(models)
    present = [c for c in COLUMNS
               if any(c[0] in stats for stats in models.values())]

    def cell(model, key, title, scale, models=models, best=best):
      text = _cell(models[model], key, scale)
      return f"**{text}**" if best.get(title) == model else text

    columns = [report.Column("model", lambda model: model)] + [
        report.Column(title, lambda model, k=key, t=title, sc=scale:
                      cell(model, k, t, sc))
        for key, title, scale, _ in present]
    order = [m for m in REFERENCES if m in models] + sorted(
        m for m in models if m not in REFERENCES)
    lines += [f"## {ratio:g}% deleted, {strategy} Df, width {width}", ""]
    lines += report.render(columns, order, markdown=True)
    lines += ["", "Best per metric: " + "; ".join(
        f"{t}: {m}" for t, m in best.items()) + ".", ""]
  return "\n".join(lines)


def plots(agg: dict, directory: str) -> list[str]:
  """`metric_vs_ratio.png` per (width, strategy) and `tradeoff.png`."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  written = []
  # (metric keys, the first present is drawn; axis label; scale)
  panels = ((("test_r1", "test_acc"), "test R@1 / accuracy (%)", 100),
            (("df_r1", "df_acc"), "Df R@1 / accuracy (%)", 100),
            (("auc",), "Df-vs-Dr AUC", 1), (("gap",), "gap to retrain", 1),
            (("overall",), "overall (HM)", 1), (("seconds",), "seconds", 1))
  settings = sorted({(w, s) for w, s, _ in agg})
  for width, strategy in settings:
    ratios = sorted(r for w, s, r in agg if (w, s) == (width, strategy))
    models = sorted({m for r in ratios for m in agg[(width, strategy, r)]})
    # One colour per model in every panel (some panels skip references).
    colour = {m: f"C{i % 10}" for i, m in enumerate(models)}
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (keys, label, scale) in zip(axes.ravel(), panels):
      for model in models:
        pts = []
        for r in ratios:
          stats = agg[(width, strategy, r)].get(model, {})
          key = _first_present(keys, stats)
          if key:
            pts.append((r, stats[key]))
        if not pts:
          continue
        x = [p[0] for p in pts]
        y = np.array([p[1][0] for p in pts]) * scale
        e = np.array([p[1][1] for p in pts]) * scale
        style = "--" if model in REFERENCES else "-"
        ax.errorbar(x, y, yerr=e, fmt=style + "o", ms=3, capsize=2,
                    color=colour[model], label=model)
      ax.set_xlabel("deletion ratio (%)")
      ax.set_ylabel(label)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"metrics vs deletion ratio ({strategy} Df, width {width})")
    fig.tight_layout()
    path = os.path.join(directory, f"metric_vs_ratio_w{width}_{strategy}.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

  fig, ax = plt.subplots(figsize=(7, 5))
  markers = "osD^v<>p*h"
  groups = sorted(agg)
  models = sorted({m for g in groups for m in agg[g]})
  colour = {m: f"C{i % 10}" for i, m in enumerate(models)}
  for i, group in enumerate(groups):  # marker: deletion set; colour: model
    for model, stats in agg[group].items():
      utility = _first_present(("test_r1", "test_acc"), stats)
      if "gap" not in stats or utility is None:
        continue
      ax.scatter(stats["gap"][0], stats[utility][0] * 100,
                 marker=markers[i % len(markers)], s=30,
                 color=colour[model],
                 label=model if i == 0 else None)
      ax.annotate(f"{group[2]:g}%", (stats["gap"][0],
                                     stats[utility][0] * 100), fontsize=6)
  ax.legend(fontsize=7)
  ax.set_xlabel("gap to the retrained model (lower: closer)")
  ax.set_ylabel("test R@1 / accuracy (%)")
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
      [{"width": w, "strategy": s, "ratio": r, "models": models,
        "winners": winners(models)} for (w, s, r), models in sorted(
            agg.items())])
  return {"markdown": text, "plots": plots(agg, directory)}

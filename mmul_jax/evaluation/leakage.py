"""The leakage audit: per representation, how far each model's deleted
examples stand out, against K retrained models.

`scores[model][set][name]` holds `(K, N, ...)` per-example scores of the K
seeds of a model ("original", "retrained", each method) on the eval sets
(`evaluation.example_scores`). For every representation of the task:

* `df_vs_dr_auc`: the Df-vs-Dr AUC of its member score (retained 1,
  deleted 0; `deletion_auc`), mean ± std over the K seeds: how well Df can
  be told from Dr at all (the retrained model's is the target);
* `ulira`: U-LiRA between the model's and the retrained models' Df scores
  (0.5 = indistinguishable from retraining), with TPR at 1 % and 5 % FPR;
* `ks`: KS forget quality on Df, Dr and test;
* `epsilon`: the per-example (ε, δ) estimate's quality and mean ε on Df.

A representation "still leaks" after a method when its U-LiRA AUC is at
least `LEAK_AUC` (our convention, printed with the table).
"""

from __future__ import annotations

import numpy as np

from mmul_jax.evaluation import deletion_auc
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import report
from mmul_jax.evaluation import retrain_referenced as rr

REFERENCE = "retrained"
ORIGINAL = "original"
LEAK_AUC = 0.6
SETS = ("df", "dr", "test")


def member_scores(rep, scores: dict, model: str, split: str) -> np.ndarray:
  """`(K, N)` member scores of `rep` for the K seeds of `model` on
  `split` (vectors against the same seed's original)."""
  mine, orig = scores[model][split], scores[ORIGINAL][split]
  k = len(mine[rep.name])
  return np.stack([example_scores.member_score(
      rep, {rep.name: mine[rep.name][i]},
      {rep.name: orig[rep.name][i]} if rep.kind == "vector" else None)
      for i in range(k)])


def audit(representations, scores: dict, *, auc_num_samples: int = 5,
          auc_seed: int = 0) -> dict:
  """`{model: {representation: metrics}}` (see the module docstring)."""
  out = {}
  for model in scores:
    rows = {}
    for rep in representations:
      s = {split: member_scores(rep, scores, model, split)
           for split in SETS}
      aucs = [deletion_auc.df_vs_dr_auc(
          df, dr, num_samples=auc_num_samples, seed=auc_seed)["mean"]
              for df, dr in zip(s["df"], s["dr"])]
      row = {"df_vs_dr_auc": {"mean": float(np.mean(aucs)),
                              "std": float(np.std(aucs)), "values": aucs}}
      if model != REFERENCE:
        ref = {split: member_scores(rep, scores, REFERENCE, split)
               for split in SETS}
        u = rr.ulira(s["df"], ref["df"],
                     probability=rep.kind == "probability")
        row["ulira"] = {k: v for k, v in u.items()
                        if k != "per_example_auc"}
        row["ulira"]["per_example_auc_mean"] = float(
            np.mean(u["per_example_auc"]))
        row["ks"] = {split: {k: v for k, v in
                             rr.ks_forget_quality(s[split], ref[split]).items()
                             if k != "values"} for split in SETS}
        e = rr.epsilon_estimate(s["df"], ref["df"])
        row["epsilon"] = {k: v for k, v in e.items() if k != "epsilon"}
      rows[rep.name] = row
    out[model] = rows
  return out


def leaks(audited: dict, model: str) -> list[str]:
  """The representations whose U-LiRA AUC after `model` is >= LEAK_AUC."""
  return [rep for rep, row in audited[model].items()
          if "ulira" in row and row["ulira"]["auc"] >= LEAK_AUC]


def markdown(representations, audited: dict) -> str:
  """One table per run: a row per representation; per model its Df-vs-Dr
  AUC (mean ± std over seeds) and, except for the retrained model, its
  U-LiRA AUC and the KS p-value on Df; then which representations still
  leak after each model."""
  models = list(audited)
  columns = [report.Column("representation", lambda r: r.title)]
  for m in models:
    columns.append(report.Column(
        f"{m} Df/Dr AUC", lambda r, m=m: report.mean_std(
            {"a/mean": audited[m][r.name]["df_vs_dr_auc"]["mean"],
             "a/std": audited[m][r.name]["df_vs_dr_auc"]["std"]}, "a")))
  for m in models:
    if m == REFERENCE:
      continue
    columns.append(report.Column(
        f"{m} U-LiRA", lambda r, m=m:
        f"{audited[m][r.name]['ulira']['auc']:.3f}"))
    columns.append(report.Column(
        f"{m} KS p (Df)", lambda r, m=m:
        f"{audited[m][r.name]['ks']['df']['pooled']:.2g}"))
  lines = report.render(columns, list(representations), markdown=True)
  lines.append("")
  for m in models:
    if m != REFERENCE:
      found = leaks(audited, m)
      lines.append(f"{m}: still leaks (U-LiRA AUC >= {LEAK_AUC}) in "
                   + (", ".join(found) if found else "none"))
  return "\n".join(lines)

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
* `ulira_dr_relative`: U-LiRA on each model's Df scores relative to its
  own median Dr score: what is left when a model-wide shift (a model
  unlearned from the original stays closer to it everywhere) is removed;
* `ks`: KS forget quality on Df, Dr and test;
* `epsilon`: the per-example (ε, δ) estimate's quality and mean ε on Df.

A representation "still leaks" after a method when its U-LiRA AUC is at
least `LEAK_AUC` (our convention, printed with the table). A method is
as close to retraining as its worst representation: `ranking` orders the
models by the largest |U-LiRA AUC - 0.5| over representations, and
`leaderboard_markdown` prints that ranking with the KS forget quality.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

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


def _relative(df: np.ndarray, dr: np.ndarray, rep) -> np.ndarray:
  """`(K, N)` Df member scores minus each seed's median on Dr
  (probabilities first as logits, so the shift is on the test's scale)."""
  if rep.kind == "probability":
    df, dr = rr.logit(df), rr.logit(dr)
  return df - np.median(dr, axis=1, keepdims=True)


def example_mask(masks: np.ndarray, scores: dict, n: int) -> np.ndarray:
  """`(K, n)`: the unit masks `(K, U)` of shadow deletion sets for a
  representation with n examples on Df (per unit, or per pair through
  the set's `caption_owner`)."""
  masks = np.asarray(masks, bool)
  if n == masks.shape[1]:
    return masks
  owner = np.asarray(scores[ORIGINAL]["df"]["caption_owner"])[0]
  if len(owner) != n:
    raise ValueError(f"{n} Df examples for {masks.shape[1]} masked units")
  return masks[:, owner]


def audit(representations, scores: dict, *, auc_num_samples: int = 5,
          auc_seed: int = 0, ulira_ddof: int = 1,
          masks: np.ndarray | None = None) -> dict:
  """`{model: {representation: metrics}}` (see the module docstring);
  `ulira_ddof` is U-LiRA's variance estimate (`retrain_referenced.ulira`:
  1 unbiased, 0 LiRA's maximum-likelihood one).

  `masks` `(K, U)` (shadow deletion sets, `unlearn.shadow_sets`): the
  "df" set is the candidate pool and model k forgot only its units where
  `masks[k]` holds; each model's Df-vs-Dr AUC and KS test read its own
  forgotten units, U-LiRA tests each pool example over the pairs that
  forgot it (`retrain_referenced.ulira_masked`); the per-example ε needs
  every model on every example and is left out."""
  out = {}
  for model in scores:
    rows = {}
    for rep in representations:
      s = {split: member_scores(rep, scores, model, split)
           for split in SETS}
      m = (None if masks is None
           else example_mask(masks, scores, s["df"].shape[1]))
      if m is not None:
        rows[rep.name] = _masked_row(rep, scores, model, s, m,
                                     auc_num_samples, auc_seed, ulira_ddof)
        continue
      aucs = [deletion_auc.df_vs_dr_auc(
          df, dr, num_samples=auc_num_samples, seed=auc_seed)["mean"]
              for df, dr in zip(s["df"], s["dr"])]
      row = {"df_vs_dr_auc": {"mean": float(np.mean(aucs)),
                              "std": float(np.std(aucs)), "values": aucs}}
      if model != REFERENCE:
        ref = {split: member_scores(rep, scores, REFERENCE, split)
               for split in SETS}
        u = rr.ulira(s["df"], ref["df"],
                     probability=rep.kind == "probability", ddof=ulira_ddof)
        row["ulira"] = {k: v for k, v in u.items()
                        if k not in ("per_example_auc", "fold_auc")}
        row["ulira"]["fold_auc"] = [float(a) for a in u["fold_auc"]]
        # The same test on scores relative to each model's own Dr level:
        # a model unlearned from the original sits closer to it on every
        # example (Dr and test too), which alone makes the raw test
        # near 1 on vectors; this one asks whether Df stands out of the
        # model's own retained data as it does in the retrained models.
        row["ulira_dr_relative"] = {
            k: v for k, v in rr.ulira(
                _relative(s["df"], s["dr"], rep), _relative(
                    ref["df"], ref["dr"], rep), ddof=ulira_ddof).items()
            if k in ("auc", "auc_mean", "auc_std")}
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


def _masked_row(rep, scores, model, s, m, auc_num_samples, auc_seed,
                ulira_ddof) -> dict:
  """`audit`'s row of one representation under shadow deletion sets."""
  aucs = [deletion_auc.df_vs_dr_auc(
      df[mk], dr, num_samples=auc_num_samples, seed=auc_seed)["mean"]
          for df, dr, mk in zip(s["df"], s["dr"], m)]
  row = {"df_vs_dr_auc": {"mean": float(np.mean(aucs)),
                          "std": float(np.std(aucs)), "values": aucs}}
  if model == REFERENCE:
    return row
  ref = {split: member_scores(rep, scores, REFERENCE, split)
         for split in SETS}
  prob = rep.kind == "probability"
  u = rr.ulira_masked(s["df"], ref["df"], m, probability=prob,
                      ddof=ulira_ddof)
  row["ulira"] = {k: v for k, v in u.items()
                  if k not in ("per_example_auc", "lanes_per_example")}
  row["ulira"]["per_example_auc_mean"] = float(
      np.nanmean(u["per_example_auc"]))
  row["ulira_dr_relative"] = {
      k: v for k, v in rr.ulira_masked(
          _relative(s["df"], s["dr"], rep),
          _relative(ref["df"], ref["dr"], rep), m,
          ddof=ulira_ddof).items() if k in ("auc", "auc_mean", "auc_std")}
  ks = {split: {k: v for k, v in rr.ks_forget_quality(
      s[split], ref[split]).items() if k != "values"}
        for split in ("dr", "test")}
  forgot_u = [x[mk] for x, mk in zip(s["df"], m)]
  forgot_r = [x[mk] for x, mk in zip(ref["df"], m)]
  per_seed = [stats.ks_2samp(a, b).pvalue for a, b in zip(forgot_u,
                                                          forgot_r)]
  pooled = stats.ks_2samp(np.concatenate(forgot_u),
                          np.concatenate(forgot_r))
  ks["df"] = {"mean": float(np.mean(per_seed)),
              "std": float(np.std(per_seed)),
              "pooled": float(pooled.pvalue),
              "statistic": float(pooled.statistic)}
  row["ks"] = ks
  return row


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
        f"{m} U-LiRA vs Dr", lambda r, m=m:
        f"{audited[m][r.name]['ulira_dr_relative']['auc']:.3f}"))
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


def distance(audited: dict, model: str) -> tuple[float, str]:
  """`(max |U-LiRA AUC - 0.5|, representation)` over the representations
  of `model`: how far its most telling score is from retraining."""
  return max((abs(row["ulira"]["auc"] - 0.5), rep)
             for rep, row in audited[model].items() if "ulira" in row)


def ranking(audited: dict) -> list[dict]:
  """Every model but the retrained one, closest to retraining first (by
  `distance`), with its worst representation's U-LiRA AUC (pooled and
  mean ± std over seed folds) and KS forget quality on Df."""
  rows = []
  for model in audited:
    if model == REFERENCE:
      continue
    dist, rep = distance(audited, model)
    row = audited[model][rep]
    ks = [r["ks"]["df"]["pooled"] for r in audited[model].values()]
    rows.append({"model": model, "distance": dist, "worst": rep,
                 "ulira_auc": row["ulira"]["auc"],
                 "ulira_auc_mean": row["ulira"]["auc_mean"],
                 "ulira_auc_std": row["ulira"]["auc_std"],
                 "ks_df_worst": row["ks"]["df"]["pooled"],
                 "ks_df_min": float(min(ks)),
                 "df_vs_dr_auc": row["df_vs_dr_auc"]["mean"],
                 "leaks": leaks(audited, model)})
  return sorted(rows, key=lambda r: r["distance"])


def leaderboard_markdown(audited: dict, titles: dict | None = None) -> str:
  """The models ranked by closeness to retraining (`ranking`)."""
  titles = titles or {}
  ref = audited[REFERENCE]
  columns = [
      report.Column("rank", lambda r: str(r["rank"])),
      report.Column("model", lambda r: r["model"]),
      report.Column("worst representation",
                    lambda r: titles.get(r["worst"], r["worst"])),
      report.Column("U-LiRA AUC", lambda r: f"{r['ulira_auc']:.3f}"),
      report.Column("per seed", lambda r: f"{r['ulira_auc_mean']:.3f} ± "
                    f"{r['ulira_auc_std']:.3f}"),
      report.Column("its Df/Dr AUC (retrained)", lambda r:
                    f"{r['df_vs_dr_auc']:.3f} "
                    f"({ref[r['worst']]['df_vs_dr_auc']['mean']:.3f})"),
      report.Column("KS p Df (worst rep / min)", lambda r:
                    f"{r['ks_df_worst']:.2g} / {r['ks_df_min']:.2g}"),
      report.Column("leaks in", lambda r: ", ".join(
          titles.get(x, x) for x in r["leaks"]) or "none"),
  ]
  rows = [dict(r, rank=i + 1) for i, r in enumerate(ranking(audited))]
  return "\n".join(report.render(columns, rows, markdown=True))

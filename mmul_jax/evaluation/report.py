"""results.json records and the printed comparison table."""

from __future__ import annotations

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


def is_classification(ev: dict) -> bool:
  """Whether an evaluation is of a classification task (accuracy)."""
  return "accuracy" in ev["test"]


def headline_metrics(ev: dict) -> dict:
  """One model's main metrics, all as fractions in [0, 1]."""
  m = ev["mubench"]
  common = {"auc": ev["df_vs_dr_auc"]["mean"],
            "knowledge_gap": m["knowledge_gap"], "zrf": m["zrf"],
            "mia_df_non_member": m["mia"]["target_non_member_rate"],
            "mia_df_auc": m["mia"]["target_auc"]}
  if is_classification(ev):
    return {"test_acc": ev["test"]["accuracy"] / 100.0,
            "df_acc": ev["df"]["accuracy"] / 100.0,
            "dr_acc": ev["dr"]["accuracy"] / 100.0, **common}
  return {"test_r1": ev["test"]["itc"]["r1_mean"] / 100.0,
          "df_r1": ev["df"]["itc"]["r1_mean"] / 100.0,
          "dr_r1": ev["dr"]["itc"]["r1_mean"] / 100.0,
          "auc": ev["df_vs_dr_auc"]["mean"],
          "auc_match": ev["df_vs_dr_auc_itm"]["mean"],
          "knowledge_gap": m["knowledge_gap"], "zrf": m["zrf"],
          "mia_df_non_member": m["mia"]["target_non_member_rate"],
          "mia_df_auc": m["mia"]["target_auc"]}


def overall_score(ev: dict, original: dict, *, method: str) -> float:
  """MU-Bench's harmonic mean: test accuracy against the original's and Df
  accuracy against chance (1 / classes); for retrieval, text-to-image R@1
  (Df chance: 1 / |Df images|)."""
  grad_ascent = method in ("neggrad", "neggrad_plus")
  if is_classification(ev):
    return mubench.harmonic_mean_score(
        ev["test"]["accuracy"] / 100.0, original["test"]["accuracy"] / 100.0,
        ev["mubench"]["df_acc"], ev["mubench"]["df_chance"],
        max_dt_drop=0.4 if grad_ascent else 0.2)
  return mubench.harmonic_mean_score(
      ev["test"]["itc"]["t2i_r1"] / 100.0,
      original["test"]["itc"]["t2i_r1"] / 100.0,
      ev["mubench"]["df_t2i_acc"], ev["mubench"]["df_chance"],
      max_dt_drop=0.4 if grad_ascent else 0.2)


def results_record(exp, evals: dict, *, method: str, times: dict,
                   total_seconds: float, eval_seconds: dict | None = None
                   ) -> dict:
  d = exp.deletion
  per_unit = exp.texts_per_unit
  models = {k: {**v, "wall_seconds": times.get(k)} for k, v in evals.items()}
  summary = {}
  for auc_key in ("df_vs_dr_auc", "df_vs_dr_auc_itm"):
    if auc_key in evals["original"]:
      auc = {k: v[auc_key]["mean"] for k, v in evals.items()}
      summary[f"{auc_key}_progress"] = auc_progress(
          auc["original"], auc["retrained"], auc[method])
  if is_classification(evals["original"]):
    acc = {k: v["test"]["accuracy"] for k, v in evals.items()}
    summary["test_accuracy_change"] = acc[method] - acc["original"]
  for ranking in evals["original"]["test"]:
    if ranking in ("itc", "itm"):
      r1 = {k: v["test"][ranking]["r1_mean"] for k, v in evals.items()}
      summary[f"test_r1_mean_change_{ranking}"] = r1[method] - r1["original"]
  headline = {k: headline_metrics(v) for k, v in evals.items()}
  summary["metrics"] = headline
  summary["overall"] = {
      k: overall_score(v, evals["original"], method=k if k == method else "")
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


def _recall(m: dict, split: str, ranking: str, k: int = 1) -> str:
  r = m[split].get(ranking)
  return "-" if r is None else f"{r[f'r{k}_mean']:.1f}"


def _fixed_width(head, rows) -> list[str]:
  widths = [max(len(str(r[i])) for r in [head] + rows)
            for i in range(len(head))]
  fmt = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths))
  return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]


def classification_table(results: dict) -> str:
  """`table` for classification tasks (NLVR2, SNLI-VE)."""
  head = ("model", "test acc", "Df acc", "Dr acc", "AUC p(y)",
          "knowledge gap", "ZRF", "MIA Df non-member", "time s")
  rows = []
  for name, m in results["models"].items():
    a, mb = m["df_vs_dr_auc"], m["mubench"]
    secs = m.get("wall_seconds")
    rows.append((name, f"{m['test']['accuracy']:.1f}",
                 f"{m['df']['accuracy']:.1f}", f"{m['dr']['accuracy']:.1f}",
                 f"{a['mean']:.3f} ± {a['std']:.3f}",
                 f"{mb['knowledge_gap']:.3f}", f"{mb['zrf']:.3f}",
                 f"{mb['mia']['target_non_member_rate']:.3f}",
                 "-" if secs is None else f"{secs:.0f}"))
  d, s = results["deletion"], results["summary"]
  progress = s["df_vs_dr_auc_progress"]
  return "\n".join(_fixed_width(head, rows) + [
      "",
      f"Df = {d['num_forget_images']} units ({d['ratio']:g}% of train, "
      f"{d['num_forget_pairs']} examples), seed {d['seed']}, "
      f"sha256 {d['sha256'][:12]}",
      f"{results['method']}: the Df-vs-Dr AUC moved "
      + ("n/a" if progress is None else f"{round(100 * progress) + 0:d}%")
      + " of the way from original to retrained; test accuracy changed by "
      f"{s['test_accuracy_change']:+.1f} points.",
      "Accuracy in %. AUC: retained (1) vs deleted (0) training examples by "
      "the probability of the true label, mean ± std over 5 disjoint Dr "
      "samples of size |Df|.",
  ])


def table(results: dict) -> str:
  """A fixed-width comparison of every model in `results["models"]`."""
  if is_classification(next(iter(results["models"].values()))):
    return classification_table(results)
  head = ("model", "test R@1 i2t/t2i/mean", "R@1 rerank", "R@5", "R@10",
          "Df R@1", "Dr R@1", "AUC cosine", "AUC match", "time s")
  rows = []
  for name, m in results["models"].items():
    t = m["test"]["itc"]
    a, b = m["df_vs_dr_auc"], m["df_vs_dr_auc_itm"]
    secs = m.get("wall_seconds")
    rows.append((
        name, f"{t['i2t_r1']:.1f} / {t['t2i_r1']:.1f} / {t['r1_mean']:.1f}",
        _recall(m, "test", "itm"), _recall(m, "test", "itc", 5),
        _recall(m, "test", "itc", 10), _recall(m, "df", "itc"),
        _recall(m, "dr", "itc"), f"{a['mean']:.3f} ± {a['std']:.3f}",
        f"{b['mean']:.3f} ± {b['std']:.3f}",
        "-" if secs is None else f"{secs:.0f}"))
  lines = _fixed_width(head, rows)
  d, s = results["deletion"], results["summary"]
  pct = lambda x: "n/a" if x is None else f"{round(100 * x) + 0:d}%"
  lines += [
      "",
      f"Df = {d['num_forget_images']} images ({d['ratio']:g}% of train, "
      f"{d['num_forget_pairs']} pairs), seed {d['seed']}, "
      f"sha256 {d['sha256'][:12]}",
      f"{results['method']}: the Df-vs-Dr AUC moved "
      f"{pct(s['df_vs_dr_auc_progress'])} (cosine score) and "
      f"{pct(s['df_vs_dr_auc_itm_progress'])} (matching score) of the way "
      "from original to retrained;",
      f"test R@1 (mean of both directions) changed by "
      f"{s['test_r1_mean_change_itc']:+.1f} points (cosine ranking)"
      + (f", {s['test_r1_mean_change_itm']:+.1f} (re-ranked)"
         if "test_r1_mean_change_itm" in s else "") + ".",
      "Recall in %; R@5/R@10/Df/Dr by cosine ranking; Df and Dr recall use "
      "only Df / Dr images as gallery.",
      "AUC: retained (1) vs deleted (0) training pairs by pair score, "
      "mean ± std over 5 disjoint Dr samples of size |Df|.",
  ]
  return "\n".join(lines)

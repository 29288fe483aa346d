"""results.json records and the printed comparison table."""

from __future__ import annotations

import jax
import numpy as np


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


def results_record(exp, evals: dict, *, method: str, times: dict,
                   total_seconds: float) -> dict:
  d = exp.deletion
  cap = exp.config.data.captions_per_image
  auc = {k: v["df_vs_dr_auc"]["mean"] for k, v in evals.items()}
  r1 = {k: v["test"]["r1_mean"] for k, v in evals.items()}
  models = {k: {**v, "wall_seconds": times.get(k)} for k, v in evals.items()}
  return {
      "dataset": exp.dataset_name,
      "method": method,
      "deletion": {"unit": d.unit, "ratio": d.ratio, "seed": d.seed,
                   "num_forget_images": int(len(d.forget_ids)),
                   "num_forget_pairs": int(len(d.forget_ids) * cap),
                   "num_retain_images": int(len(d.retain_ids)),
                   "sha256": d.sha256},
      "models": models,
      "summary": {
          "auc_progress": auc_progress(auc["original"], auc["retrained"],
                                       auc[method]),
          "test_r1_mean_change": r1[method] - r1["original"],
          "retrained_minus_original_auc": auc["retrained"] - auc["original"],
      },
      "devices": [str(x) for x in jax.devices()],
      "total_seconds": total_seconds,
      "config": exp.config.to_dict(),
  }


def table(results: dict) -> str:
  """A fixed-width comparison of every model in `results["models"]`."""
  head = ("model", "test R@1 i2t/t2i/mean", "test R@5", "test R@10",
          "Df R@1", "Dr R@1", "Df-vs-Dr AUC", "time s")
  rows = []
  for name, m in results["models"].items():
    t, a = m["test"], m["df_vs_dr_auc"]
    secs = m.get("wall_seconds")
    rows.append((
        name, f"{t['i2t_r1']:.1f} / {t['t2i_r1']:.1f} / {t['r1_mean']:.1f}",
        f"{t.get('r5_mean', np.nan):.1f}", f"{t.get('r10_mean', np.nan):.1f}",
        f"{m['df']['r1_mean']:.1f}", f"{m['dr']['r1_mean']:.1f}",
        f"{a['mean']:.3f} ± {a['std']:.3f}",
        "-" if secs is None else f"{secs:.0f}"))
  widths = [max(len(str(r[i])) for r in [head] + rows)
            for i in range(len(head))]
  fmt = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths))
  lines = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
  d, s = results["deletion"], results["summary"]
  lines.append("")
  lines.append(
      f"Df = {d['num_forget_images']} images ({d['ratio']:g}% of train, "
      f"{d['num_forget_pairs']} pairs), seed {d['seed']}, "
      f"sha256 {d['sha256'][:12]}")
  prog = s["auc_progress"]
  lines.append(
      f"{results['method']}: AUC moved "
      f"{'n/a' if prog is None else f'{100 * prog:.0f}%'} of the way from "
      f"original to retrained; test R@1 (mean) changed by "
      f"{s['test_r1_mean_change']:+.1f} points")
  lines.append("Recall in %; Df/Dr recall use only Df/Dr images as gallery.")
  return "\n".join(lines)

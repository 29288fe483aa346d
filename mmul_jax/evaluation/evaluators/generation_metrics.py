"""A language model's metrics on question-answer sets (`evaluation.
generation`): per set ROUGE (`<set>/rougeL_recall`, ... in %), TOFU's
answer probability and truth ratio with its statistic, exact memorisation,
extraction strength and MUSE's verbatim memorisation (`verbmem`, %); Dr's model utility; and the membership attacks'
AUCs (`mia/<attack>`) of Df (members) against the held-out set (higher:
Df looks more like training data)."""

from __future__ import annotations

import numpy as np

from mmul_jax.evaluation import generative

KINDS = ("generation",)
ROUGE = tuple(f"{k}_{p}" for k in ("rouge1", "rouge2", "rougeL")
              for p in ("f1", "recall"))
# Membership scores by attack (higher: more member-like).
ATTACKS = {"loss": lambda o: -o["mean_nll"], "zlib": lambda o: o["zlib"],
           "min_k": lambda o: o["min_k"],
           "min_k_plus_plus": lambda o: o["min_k_plus_plus"]}


def set_metrics(o: dict, forget: bool) -> dict:
  """One set's means; `forget` picks the truth-ratio statistic's form."""
  m = {k: 100.0 * float(np.mean(o[k])) for k in ROUGE}
  for k in ("p_answer", "exact_memorization", "extraction_strength"):
    m[k] = float(np.mean(o[k]))
  # MUSE's VerbMem in % (NaN for an encoder-decoder: no continuation).
  m["verbmem"] = (100.0 * float(np.mean(o["verbmem"])) if "verbmem" in o
                  else float("nan"))
  tr = np.asarray(o.get("truth_ratio", ()), np.float64)
  tr = tr[np.isfinite(tr)]  # the pairs with options (`qa.QaSet.truth`)
  # NaN without perturbed answers (SAMSum, Celeb Profile): not computable.
  m["truth_ratio"] = float(np.mean(tr)) if tr.size else float("nan")
  m["truth_ratio_score"] = (generative.truth_ratio_score(
      tr, "forget" if forget else "retain") if tr.size else float("nan"))
  return m


def metrics(run) -> dict:
  o = run.outputs
  out = {name: set_metrics(o[name], name == "df") for name in run.sets}
  dr = out["dr"]
  parts = [dr["p_answer"], dr["rougeL_recall"] / 100.0]
  if np.isfinite(dr["truth_ratio_score"]):
    parts.append(dr["truth_ratio_score"])
  out["model_utility"] = generative.model_utility(parts)
  out["mia"] = {name: generative.attack_auc(score(o["df"]),
                                            score(o["test"]))
                for name, score in ATTACKS.items()}
  return out

"""A language model's metrics on question-answer sets (`evaluation.
generation`): per set ROUGE (`<set>/rougeL_recall`, ... in %), TOFU's
answer probability (also normalised against the perturbed answers,
TOFU's Prob on real authors and world facts) and truth ratio with its
statistic, exact memorisation, extraction strength and MUSE's verbatim
memorisation (`verbmem`, %); the model utility; and the membership
attacks' AUCs (`mia/<attack>`) of Df (members) against the held-out set
(higher: Df looks more like training data).

Model utility is the harmonic mean of Dr's probability, ROUGE-L recall
and truth-ratio statistic and, where the test split is knowledge to keep
(`Options.utility_test`: TOFU's real authors and world facts), of the
test split's normalised probability, ROUGE-L recall and truth-ratio
statistic too (TOFU's nine statistics come from its retain, real-authors
and world-facts sets; one test split here holds the last two).

Image-conditioned sets (CLEAR-style) add every set metric per question
type (`<set>/<type>/rougeL_recall`, ...: name, image, both, general), the
multiple-choice accuracy (`mc_accuracy`, % of pairs whose answer is
likelier than each option in its wording, or, without options, whose
paraphrase is likelier than each perturbed answer), and run the membership attacks on the
persons' own pairs; their model utility adds the held-out general
knowledge (the test split's `general` pairs) as TOFU's adds world facts;
the Df-vs-Dr AUC by answer probability comes per question type too
(`auc_by_type/<type>/mean`).
"""

from __future__ import annotations

import numpy as np

from mmul_jax.data.core import qa
from mmul_jax.evaluation import deletion_auc
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
  pn = np.asarray(o.get("p_normalised", ()), np.float64)
  # TOFU's Prob on real authors and world facts: P(a) against the options.
  m["p_normalised"] = (float(np.mean(pn[np.isfinite(pn)])) if tr.size
                       else float("nan"))
  # NaN without perturbed answers (SAMSum, Celeb Profile): not computable.
  m["truth_ratio"] = float(np.mean(tr)) if tr.size else float("nan")
  m["truth_ratio_score"] = (generative.truth_ratio_score(
      tr, "forget" if forget else "retain") if tr.size else float("nan"))
  mc = np.asarray(o.get("mc_correct", ()), np.float64)
  mc = mc[np.isfinite(mc)]
  # Multiple-choice accuracy in % (`generation.set_outputs`).
  m["mc_accuracy"] = 100.0 * float(np.mean(mc)) if mc.size else float("nan")
  return m


def _rows(o: dict, keep: np.ndarray) -> dict:
  """The per-pair outputs of the pairs `keep` (a boolean mask)."""
  index = np.flatnonzero(keep)
  return {k: ([v[i] for i in index] if isinstance(v, list)
              else np.asarray(v)[index]) for k, v in o.items()}


def by_question_type(s, o: dict, forget: bool) -> dict:
  """`set_metrics` per question type of an image-conditioned set
  (`qa.QUESTION_TYPES`: name, image, both, general), for the types it
  has: whether forgetting in one modality reaches the others."""
  return {kind: set_metrics(_rows(o, s.question_type == t), forget)
          for t, kind in enumerate(qa.QUESTION_TYPES)
          if np.any(s.question_type == t)}


def _members(s, o: dict) -> dict:
  """The pairs a membership attack reads: all of them, or in an
  image-conditioned set the person's own (general knowledge is
  everybody's, member or not)."""
  if getattr(s, "question_type", None) is None:
    return o
  return _rows(o, s.question_type != qa.QUESTION_TYPES.index("general"))


def _auc_by_type(run) -> dict:
  """The Df-vs-Dr AUC by answer probability (`evaluators.deletion_auc`'s)
  per question type: whether a model tells deleted persons apart by
  their name, their portrait, or both."""
  auc = dict(num_samples=run.options.auc_num_samples,
             seed=run.options.auc_seed)
  df, dr = run.sets["df"], run.sets["dr"]
  out = {}
  for t, kind in enumerate(qa.QUESTION_TYPES):
    a = run.outputs["df"]["p_answer"][df.question_type == t]
    b = run.outputs["dr"]["p_answer"][dr.question_type == t]
    if len(a) and len(b) >= auc["num_samples"] * len(a):
      out[kind] = deletion_auc.df_vs_dr_auc(a, b, **auc)
  return out


def metrics(run) -> dict:
  o = run.outputs
  out = {name: set_metrics(o[name], name == "df") for name in run.sets}
  for name, s in run.sets.items():
    if getattr(s, "question_type", None) is not None:
      out[name].update(by_question_type(s, o[name], name == "df"))
  if getattr(run.sets["df"], "question_type", None) is not None:
    out["auc_by_type"] = _auc_by_type(run)
  dr, test = out["dr"], out["test"]
  parts = [dr["p_answer"], dr["rougeL_recall"] / 100.0]
  if np.isfinite(dr["truth_ratio_score"]):
    parts.append(dr["truth_ratio_score"])
  # The held-out knowledge to keep: image-conditioned sets' general pairs
  # (CLEAR's real faces and world), else TOFU's real authors and world
  # facts (one test split here).
  kept = test.get("general", test if run.options.utility_test else None)
  if kept is not None and np.isfinite(kept["truth_ratio_score"]):
    parts += [kept["p_normalised"], kept["rougeL_recall"] / 100.0,
              kept["truth_ratio_score"]]
  out["model_utility"] = generative.model_utility(parts)
  df, test = (_members(run.sets[k], o[k]) for k in ("df", "test"))
  out["mia"] = {name: generative.attack_auc(score(df), score(test))
                for name, score in ATTACKS.items()}
  return out

"""The MultiDelete deletion metric: the ROC-AUC of telling Dr pairs from
Df pairs by each pair score (`auc/<score>`: mean and spread over disjoint
Dr samples of |Df|), and each set's mean pair score."""

from __future__ import annotations

import numpy as np

from mmul_jax.evaluation import deletion_auc

KINDS = ("retrieval", "classification", "generation", "text_to_image")
# Each pair score's per-set mean, by its flat name below the set.
MEANS = {"cosine": "mean_pair_cosine", "match": "mean_pair_match_prob",
         "p_true": "mean_p_true", "p_answer": "mean_p_answer",
         "denoise": "mean_denoise_score"}


def metrics(run) -> dict:
  out = {name: {MEANS[score]: float(np.mean(values[name]))
                for score, values in run.pair_scores.items()}
         for name in run.sets}
  auc = dict(num_samples=run.options.auc_num_samples,
             seed=run.options.auc_seed)
  out["auc"] = {score: deletion_auc.df_vs_dr_auc(values["df"],
                                                 values["dr"], **auc)
                for score, values in run.pair_scores.items()}
  return out

"""MultiDelete's deletion metric: how well pair scores separate Df from Dr."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

from mmul_jax import errors


def df_vs_dr_auc(df_scores: np.ndarray, dr_scores: np.ndarray, *,
                 num_samples: int = 5, seed: int = 0) -> dict:
  """ROC-AUC of telling retained (label 1) from deleted (label 0) pairs.

  Draws `num_samples` disjoint random subsets of the Dr scores, each of
  size |Df| (seeded), computes `roc_auc_score([0]*|Df| + [1]*|Df|,
  [df; subset])` for each and reports mean and std (the reference spec's
  clean definition; the released code used the first 5|Df| rows in order).
  0.5 means Df looks like Dr (the original model); a model that never saw
  Df scores it lower, giving AUC > 0.5.

  Args:
    df_scores: the deleted pairs' scores, any shape (flattened), `|Df| > 0`
      of them.
    dr_scores: the retained pairs' scores, any shape (flattened); at least
      `num_samples * |Df|` of them.
    num_samples: how many disjoint Dr subsets of size |Df| to draw.
    seed: of the draw.

  Returns:
    `{"mean": float, "std": float, "values": list}`: the mean and std of
    the `num_samples` AUCs, and the AUCs themselves.

  Raises:
    ValueError: `df_scores` is empty.
    ConfigError: Dr has fewer than `num_samples * |Df|` scores.
  """
  df_scores = np.asarray(df_scores, np.float64).ravel()
  dr_scores = np.asarray(dr_scores, np.float64).ravel()
  n = len(df_scores)
  if n == 0:
    raise ValueError("no deleted pairs to score")
  if num_samples * n > len(dr_scores):
    raise errors.ConfigError(
        f"{num_samples} disjoint Dr samples of size {n} need "
        f"{num_samples * n} retained pairs, only {len(dr_scores)} exist; "
        "lower eval.auc_num_samples or the deletion ratio")
  pick = np.random.default_rng(seed).permutation(len(dr_scores))
  labels = np.r_[np.zeros(n), np.ones(n)]
  aucs = [float(metrics.roc_auc_score(
      labels, np.r_[df_scores, dr_scores[pick[i * n:(i + 1) * n]]]))
          for i in range(num_samples)]
  return {"mean": float(np.mean(aucs)), "std": float(np.std(aucs)),
          "values": aucs}

"""MU-Bench's metrics (reference spec §3.2), as pure functions of scores.

* `knowledge_gap`: the AUC of telling Dr from Df by per-example
  correctness, Dr the positive class (MU-Bench's label order), averaged over
  seeded samples of |Df| Dr examples. With 0/1 scores each sample's AUC is
  exactly `0.5 + (acc_Dr_sample - acc_Df) / 2`, so the mean converges to the
  closed form `knowledge_gap_closed_form(acc_dr, acc_df)`.
* `zrf`: zero-retrain forgetting (Bad Teaching): 1 minus the mean
  Jensen-Shannon divergence (natural log) between the model's Df
  predictions and a random "incompetent teacher", averaged over seeded
  teachers. In [1 - ln 2, 1]; higher means closer to an uninformed model.
* `harmonic_mean_score`: the aggregate `2ab / (a + b)` with
  `a = 1 - |dt - dt_orig|`, `b = 1 - |df - random|`, and its guard rails.
* `membership_inference`: an addition (the reference's is a stub): a
  logistic-regression attacker on per-example features, trained on members
  (Dr) against non-members (test), then applied to Df; with too few of
  either, NaN and the reason (`not_computable`).
* `retrain_gaps`: |unlearned - retrained| per metric (neither reference has
  it; MU-Bench compares to the original and to chance instead).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from scipy import special
from sklearn import linear_model
from sklearn import metrics
from sklearn import model_selection
from sklearn import pipeline
from sklearn import preprocessing


def knowledge_gap(correct_dr: np.ndarray, correct_df: np.ndarray, *,
                  num_samples: int = 500, seed: int = 0) -> float:
  """Mean AUC of Dr (label 1) vs Df (label 0) with 0/1 correctness scores.

  Args:
    correct_dr: the retained examples' correctness, 0/1, any shape
      (flattened).
    correct_df: the deleted examples' correctness, 0/1, any shape
      (flattened); `0 < |Df| <= |Dr|`.
    num_samples: how many samples of |Df| Dr examples (drawn without
      replacement) to average over.
    seed: of the samples.

  Returns:
    The mean AUC, a float in [0, 1] (0.5: no gap).

  Raises:
    ValueError: Df is empty or larger than Dr.
  """
  correct_dr = np.asarray(correct_dr, np.float64).ravel()
  correct_df = np.asarray(correct_df, np.float64).ravel()
  n = len(correct_df)
  if n == 0 or len(correct_dr) < n:
    raise ValueError(f"need |Dr| >= |Df| > 0, got {len(correct_dr)} and {n}")
  rng = np.random.default_rng(seed)
  labels = np.r_[np.ones(n), np.zeros(n)]
  aucs = []
  for _ in range(num_samples):
    sample = correct_dr[rng.choice(len(correct_dr), n, replace=False)]
    scores = np.r_[sample, correct_df]
    # One class everywhere: both sets equally right, i.e. no gap.
    aucs.append(0.5 if np.all(scores == scores[0]) else
                float(metrics.roc_auc_score(labels, scores)))
  return float(np.mean(aucs))


def knowledge_gap_closed_form(acc_dr: float, acc_df: float) -> float:
  """The expectation of `knowledge_gap`: `0.5 + (acc_dr - acc_df) / 2`.

  Args:
    acc_dr: the accuracy on Dr, a fraction in [0, 1].
    acc_df: the accuracy on Df, a fraction in [0, 1].

  Returns:
    The expected AUC, a float in [0, 1].
  """
  return 0.5 + (float(acc_dr) - float(acc_df)) / 2.0


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
  """Row-wise Jensen-Shannon divergence in nats (probability rows)."""
  m = 0.5 * (p + q)
  kl = lambda a, b: np.sum(special.rel_entr(a, b), axis=-1)
  return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def zrf(df_logits: np.ndarray, *, num_samples: int = 500,
        seed: int = 0) -> float:
  """Zero-retrain forgetting of `(N, C)` Df logits (seeded teachers).

  Args:
    df_logits: `(N, C)` the model's logits on the N Df examples.
    num_samples: how many random teachers (uniform logits) to average over.
    seed: of the teachers.

  Returns:
    1 minus the mean Jensen-Shannon divergence, a float in [1 - ln 2, 1].
  """
  logits = np.asarray(df_logits, np.float64)
  p = special.softmax(logits, axis=-1)
  rng = np.random.default_rng(seed)
  values = [1.0 - float(np.mean(js_divergence(
      p, special.softmax(rng.uniform(size=logits.shape), axis=-1))))
            for _ in range(num_samples)]
  return float(np.mean(values))


def harmonic_mean_score(dt: float, dt_orig: float, df: float,
                        df_random: float, *, max_dt_drop: float = 0.2,
                        max_df_below_random: float = 0.2) -> float:
  """MU-Bench's overall score (all inputs as fractions in [0, 1]).

  Guard rails: 0 when the test metric moved more than `max_dt_drop` of
  the original's (MU-Bench allows 0.4 for gradient ascent), or when Df
  fell below chance by more than `max_df_below_random` of chance.

  Args:
    dt: the unlearned model's test metric.
    dt_orig: the original model's test metric.
    df: the unlearned model's metric on Df.
    df_random: chance's metric on Df (e.g. 1 / classes).
    max_dt_drop: the largest relative change of `dt` from `dt_orig`.
    max_df_below_random: the largest relative fall of `df` below
      `df_random`.

  Returns:
    The score `2ab / (a + b)`, a float in [0, 1]; 0 past a guard rail.
  """
  if dt_orig > 0 and abs(dt - dt_orig) / dt_orig > max_dt_drop:
    return 0.0
  if df < df_random and (df_random - df) / df_random > max_df_below_random:
    return 0.0
  a, b = 1.0 - abs(dt - dt_orig), 1.0 - abs(df - df_random)
  return 0.0 if a + b <= 0 else float(2 * a * b / (a + b))


MIA_METRICS = ("attack_auc", "target_non_member_rate",
               "non_member_rate_on_test", "target_auc")
# Where a run's membership attack could not be computed, the reason, under
# "mubench/mia/" beside its metrics (which are then NaN).
NOT_COMPUTABLE = "not_computable"


def not_computable(reason: str) -> dict:
  """`membership_inference`'s result where the attack cannot run: every
  metric NaN (tables show "n/a"; `retrain_gaps` leaves it out) and the
  reason, so the run keeps its other metrics."""
  return {**{k: math.nan for k in MIA_METRICS}, NOT_COMPUTABLE: reason}


def membership_inference(member: np.ndarray, non_member: np.ndarray,
                         target: np.ndarray, *, seed: int = 0,
                         folds: int = 5) -> dict:
  """A population membership-inference attack on `(N, F)` features.

  Trains a standardised logistic regression on members (label 1) against
  non-members (0), balanced by subsampling the larger set (seeded), and
  applies it to `target` (Df). Returns:

  * `attack_auc`: cross-validated AUC on members vs non-members, how much
    membership leaks at all (0.5: none);
  * `target_non_member_rate`: the fraction of targets judged non-members
    (SalUn's "MIA efficacy"; for a retrained model, about the rate on
    non-members);
  * `target_auc`: AUC of the attacker's scores on targets (1) against the
    non-members (0): 0.5 means Df looks like unseen data.

  With fewer than `folds` members or non-members it cannot run: every
  metric is NaN and the reason is kept (`not_computable`).

  Args:
    member: `(N_member, F)` features of members (Dr).
    non_member: `(N_non_member, F)` features of non-members (test).
    target: `(N_target, F)` features of the examples judged (Df).
    seed: of the subsampling and the cross-validation folds.
    folds: the cross-validation's folds.

  Returns:
    A dict of the float metrics of `MIA_METRICS`: the three above and
    `non_member_rate_on_test`, the fraction of non-members judged
    non-members; where the attack cannot run, `not_computable`'s dict.
  """
  member = np.asarray(member, np.float64)
  non_member = np.asarray(non_member, np.float64)
  target = np.asarray(target, np.float64)
  rng = np.random.default_rng(seed)
  n = min(len(member), len(non_member))
  if n < folds:  # a few examples (a tiny Dr sample or test split)
    return not_computable(
        f"{len(member)} members (Dr) and {len(non_member)} non-members "
        f"(test): its {folds}-fold cross-validation needs at least {folds} "
        "of each")
  m = member[rng.choice(len(member), n, replace=False)]
  nm = non_member[rng.choice(len(non_member), n, replace=False)]
  x, y = np.concatenate([m, nm]), np.r_[np.ones(n), np.zeros(n)]
  attacker = pipeline.make_pipeline(preprocessing.StandardScaler(),
                                    linear_model.LogisticRegression())
  cv = model_selection.StratifiedKFold(folds, shuffle=True,
                                       random_state=seed)
  cv_scores = model_selection.cross_val_predict(
      attacker, x, y, cv=cv, method="predict_proba")[:, 1]
  attacker.fit(x, y)
  target_scores = attacker.predict_proba(target)[:, 1]
  non_member_scores = attacker.predict_proba(non_member)[:, 1]
  return {
      "attack_auc": float(metrics.roc_auc_score(y, cv_scores)),
      "target_non_member_rate": float(np.mean(target_scores < 0.5)),
      "non_member_rate_on_test": float(np.mean(non_member_scores < 0.5)),
      "target_auc": float(metrics.roc_auc_score(
          np.r_[np.ones(len(target)), np.zeros(len(non_member))],
          np.r_[target_scores, non_member_scores])),
  }


def _measured(x) -> bool:
  return x is not None and math.isfinite(float(x))


def retrain_gaps(unlearned: Mapping[str, float],
                 retrained: Mapping[str, float]) -> dict:
  """`|unlearned - retrained|` for every metric both have, and their mean
  (name `mean`); metrics are taken as given, so put them on one scale. The
  mean is of the exactly rounded sum (`math.fsum`), so it does not depend
  on the order the metrics are named in. A metric that one of them could
  not measure (None or NaN: `not_computable`) has no gap.

  Args:
    unlearned: the unlearned model's metrics by name.
    retrained: the retrained model's metrics by name, on the same scale.

  Returns:
    `{name: gap}` for every metric both measured, and `"mean"`: their mean
    (0.0 when there are none).
  """
  keys = sorted(k for k in set(unlearned) & set(retrained)
                if _measured(unlearned[k]) and _measured(retrained[k]))
  gaps = {k: abs(float(unlearned[k]) - float(retrained[k])) for k in keys}
  gaps["mean"] = math.fsum(gaps.values()) / len(gaps) if gaps else 0.0
  return gaps

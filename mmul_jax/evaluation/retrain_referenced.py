"""Metrics against the retrained distribution: pure functions of per-example
scores of K unlearned and K retrained models (`shadow`).

Every function takes `unlearned` and `retrained`, arrays `(K, N)`: the
score (pair cosine, matching probability, p(true label), loss, ...) that
model k gives deleted example i. Row k of both comes from the same seed
(the same initialisation and data order), so model k's pair differs only
in how Df was removed: by the method, or by never training on it.

* `ulira`: U-LiRA (Hayes et al. 2024, "Inexact unlearning needs more
  careful evaluations to avoid a false sense of privacy"): a per-example
  likelihood-ratio test between the scores of unlearned models and those
  of models that never saw the example, each target model held out of
  the Gaussians it is tested against. AUC 0.5 = indistinguishable from
  retraining.
* `ulira_masked`: the same test when each shadow pair forgot its own
  deletion set from a common pool (the paper's protocol), each example
  tested on the pairs that forgot it.
* `ks_forget_quality`: OpenUnlearning's forget quality, the p-value of a
  two-sample Kolmogorov-Smirnov test between the unlearned and the
  retrained per-example score distributions; large = same distribution.
* `epsilon_estimate`: a per-example (ε, δ) estimate in the manner of the
  NeurIPS 2023 unlearning challenge: the strongest threshold attack's
  false-positive and false-negative rates bound ε, and each example scores
  2^-n by the bin n of its ε.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics

# Probabilities are compared on the logit scale (LiRA's φ = log p/(1-p)),
# where the scores of one example over models are close to Gaussian.
_PROB_CLIP = 1e-6
# A variance floor, relative to the scores' overall variance: a
# representation that every model scores identically has no spread.
_VAR_FLOOR = 1e-12


def _pair(unlearned, retrained) -> tuple[np.ndarray, np.ndarray]:
  u = np.asarray(unlearned, np.float64)
  r = np.asarray(retrained, np.float64)
  if u.ndim != 2 or u.shape != r.shape:
    raise ValueError("unlearned and retrained scores must both be (K, N) "
                     f"arrays of one shape, got {u.shape} and {r.shape}")
  return u, r


def logit(p: np.ndarray) -> np.ndarray:
  """log(p / (1 - p)) with p clipped to [1e-6, 1 - 1e-6]."""
  p = np.clip(np.asarray(p, np.float64), _PROB_CLIP, 1 - _PROB_CLIP)
  return np.log(p) - np.log1p(-p)


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray,
               fpr: float) -> float:
  """The ROC curve's true-positive rate at false-positive rate `fpr`
  (the best threshold whose FPR does not exceed it).

  Every threshold is kept (`drop_intermediate=False`): sklearn's default
  drops points collinear with their neighbours, and with tied scores the
  point it drops can be the best one under the limit."""
  f, t, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
  return float(t[np.searchsorted(f, fpr, side="right") - 1])


def ulira(unlearned, retrained, *, probability: bool = False,
          variance: str = "global", ddof: int = 1,
          fprs=(0.01, 0.05)) -> dict:
  """U-LiRA between K unlearned and K retrained models' `(K, N)` scores.

  For each held-out pair j (unlearned model j, retrained model j) and each
  example i, Gaussians are fitted to example i's scores under the other
  K - 1 unlearned and the other K - 1 retrained models; the statistic of a
  target model is log N(s; μ_u, σ_u) - log N(s; μ_r, σ_r). The attack
  tells unlearned (label 1) from retrained targets over all 2KN
  (model, example) pairs.

  Args:
    unlearned, retrained: `(K, N)` scores, K >= 3.
    probability: the scores are probabilities: test them as logits.
    variance: "global" (one variance per side, pooled over examples:
      LiRA's fixed-variance variant, steadier with few models) or
      "per_example".
    ddof: the Gaussians' variance divides by (K - 1) - ddof. 1 (our
      default): the unbiased estimate, since each side is fitted to only
      K - 1 models and the maximum-likelihood one is too narrow by a
      factor (K - 2) / (K - 1), which makes the test overconfident;
      0: the maximum-likelihood variance that LiRA's code uses
      (`np.std`), for comparing with its numbers.
    fprs: false-positive rates at which the true-positive rate is read.

  Returns:
    `{"auc", "tpr@<fpr>" for each fpr, "per_example_auc" (N,),
    "fold_auc" (K,), "auc_mean", "auc_std"}`: "auc" pools all 2KN
    targets; "fold_auc" is the attack on held-out pair j's targets alone
    (its mean ± std is the spread over model seeds); the per-example AUC
    tells which deleted examples still stand out.
  """
  u, r = _pair(unlearned, retrained)
  if probability:
    u, r = logit(u), logit(r)
  k, n = u.shape
  if k < 3:
    raise ValueError(f"U-LiRA needs at least 3 models per side, got {k}")
  if ddof not in (0, 1):
    raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
  if variance not in ("global", "per_example"):
    raise ValueError(f"variance must be 'global' or 'per_example', got "
                     f"{variance!r}")
  floor = _VAR_FLOOR * max(float(np.var(np.r_[u.ravel(), r.ravel()])), 1.0)
  stat = np.empty((2, k, n))  # [unlearned targets, retrained targets]
  for j in range(k):
    keep = np.arange(k) != j
    fitted = []
    for side in (u[keep], r[keep]):
      var = side.var(0, ddof=ddof)
      if variance == "global":
        var = np.full(n, var.mean())
      fitted.append((side.mean(0), np.sqrt(np.maximum(var, floor))))
    (mu_u, sd_u), (mu_r, sd_r) = fitted
    for t, target in enumerate((u[j], r[j])):
      stat[t, j] = (stats.norm.logpdf(target, mu_u, sd_u)
                    - stats.norm.logpdf(target, mu_r, sd_r))
  labels = np.r_[np.ones(k * n), np.zeros(k * n)]
  flat = np.r_[stat[0].ravel(), stat[1].ravel()]
  out = {"auc": float(metrics.roc_auc_score(labels, flat))}
  # Per held-out pair j: the attack on model j's targets alone, so the
  # AUC also has a spread over model seeds.
  fold = np.array([metrics.roc_auc_score(
      np.r_[np.ones(n), np.zeros(n)], np.r_[stat[0, j], stat[1, j]])
      for j in range(k)])
  out["fold_auc"] = fold
  out["auc_mean"], out["auc_std"] = float(fold.mean()), float(fold.std())
  for f in fprs:
    out[f"tpr@{f:g}"] = tpr_at_fpr(labels, flat, f)
  per_labels = np.r_[np.ones(k), np.zeros(k)]
  out["per_example_auc"] = np.array([
      metrics.roc_auc_score(per_labels, np.r_[stat[0, :, i], stat[1, :, i]])
      for i in range(n)])
  return out


def _mask(mask, shape: tuple[int, int]) -> np.ndarray:
  m = np.asarray(mask)
  if m.shape != shape:
    raise ValueError(f"mask must be a (K, N) array of the scores' shape "
                     f"{shape}, got {m.shape}")
  if m.dtype != bool:
    if not (np.issubdtype(m.dtype, np.number)
            and np.all((m == 0) | (m == 1))):
      raise ValueError("mask must be boolean (or 0/1), True where example i "
                       f"was in shadow pair k's deletion set; got dtype "
                       f"{m.dtype}")
    m = m.astype(bool)
  return m


def ulira_masked(unlearned, retrained, mask, *, probability: bool = False,
                 variance: str = "global", ddof: int = 1,
                 fprs=(0.01, 0.05), min_models: int = 3) -> dict:
  """U-LiRA when each shadow pair forgot its own deletion set.

  Hayes et al. (2024)'s protocol: pair k (unlearned model k, retrained
  model k) deletes its own random subset of a common candidate pool, so
  for pool example i only the lanes L_i = {k : mask[k, i]} are evidence
  (model k forgot i, its twin never saw it); elsewhere model k trained on
  i and its scores say nothing about forgetting. Everything else is
  `ulira` restricted to those lanes: for each example with |L_i| >=
  `min_models` and each held-out lane j in L_i, Gaussians are fitted to
  example i's unlearned and retrained scores over L_i \\ {j}, and the
  targets unlearned[j, i] (label 1) and retrained[j, i] (label 0) are
  scored by log N(s; μ_u, σ_u) - log N(s; μ_r, σ_r). Entries outside the
  mask are ignored. With an all-True mask this is `ulira` exactly.

  Args:
    unlearned, retrained: `(K, N)` scores over the N pool examples.
    mask: `(K, N)` bool (or 0/1), True where example i was in pair k's
      deletion set.
    probability, ddof, fprs: as in `ulira`; example i's variance divides
      its sum of squared deviations by (|L_i| - 1) - ddof.
    variance: "per_example" or "global". "global" pools one variance per
      side and held-out model j (as `ulira` does) over the examples whose
      lanes contain j: the sum of their squared deviations over the sum of
      their degrees of freedom, Σ SS_i / Σ ((|L_i| - 1) - ddof), so an
      example counts in proportion to its lanes. With equal lane counts
      this is `ulira`'s mean of per-example variances.
    min_models: lanes an example needs to be tested (>= 3, so each
      Gaussian has >= 2 models once the target lane is held out).

  Returns:
    `{"auc", "tpr@<fpr>" for each fpr, "per_example_auc" (N,; NaN for
    untested examples), "num_examples" (tested), "num_targets" (2 per
    tested lane), "lanes_per_example" (N,)}`.
  """
  u, r = _pair(unlearned, retrained)
  m = _mask(mask, u.shape)
  if ddof not in (0, 1):
    raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
  if variance not in ("global", "per_example"):
    raise ValueError(f"variance must be 'global' or 'per_example', got "
                     f"{variance!r}")
  if min_models < 3:
    raise ValueError(f"min_models must be at least 3, got {min_models}")
  k, n = u.shape
  lanes = m.sum(0)
  tested = lanes >= min_models
  if not tested.any():
    per_pair = m.sum(1).mean()
    if not per_pair:
      raise ValueError("U-LiRA needs deletion sets, but the mask is all "
                       "False: no pair forgot any pool example")
    raise ValueError(
        f"U-LiRA needs examples in at least {min_models} pairs' deletion "
        f"sets, but no pool example is in more than {lanes.max()} of the "
        f"{k}; with {per_pair:g} deletions per pair, about "
        f"{int(np.ceil(min_models * n / per_pair))} pairs or a pool of at "
        f"most {int(k * per_pair // min_models)} examples would put each "
        f"example in {min_models} on average")
  # Masked-out entries are zeroed before anything reads them, so that
  # NaN or inf there cannot leak in through arithmetic.
  u, r = np.where(m, u, 0.0), np.where(m, r, 0.0)
  if probability:
    u, r = logit(u), logit(r)
  m = m & tested  # lanes of untested examples are not evidence either
  floor = _VAR_FLOOR * max(float(np.var(np.r_[u[m], r[m]])), 1.0)
  stat = np.full((2, k, n), np.nan)  # [unlearned, retrained targets]
  for j in range(k):
    cols = m[j]  # the examples that lane j holds out
    if not cols.any():
      continue
    keep = m[:, cols].copy()
    keep[j] = False
    cnt = keep.sum(0)
    dof = cnt - ddof
    fitted = []
    for side in (u[:, cols], r[:, cols]):
      # Zeros outside `keep` add exactly nothing: with a full mask the
      # means and sums of squares are `ulira`'s.
      mu = np.where(keep, side, 0.0).sum(0) / cnt
      dev = np.where(keep, side - mu, 0.0)
      ss = (dev * dev).sum(0)
      var = ss / dof
      if variance == "global":
        var = np.full(var.shape, ss.sum() / dof.sum())
      fitted.append((mu, np.sqrt(np.maximum(var, floor))))
    (mu_u, sd_u), (mu_r, sd_r) = fitted
    for t, target in enumerate((u[j, cols], r[j, cols])):
      stat[t, j, cols] = (stats.norm.logpdf(target, mu_u, sd_u)
                          - stats.norm.logpdf(target, mu_r, sd_r))
  pos, neg = stat[0][m], stat[1][m]
  labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
  flat = np.r_[pos, neg]
  out = {"auc": float(metrics.roc_auc_score(labels, flat))}
  for f in fprs:
    out[f"tpr@{f:g}"] = tpr_at_fpr(labels, flat, f)
  # Per-example AUC as the Mann-Whitney count over example i's lanes
  # (ties half), all examples at once rather than one sklearn call each.
  both = m[:, None, :] & m[None, :, :]
  diff = stat[0][:, None, :] - stat[1][None, :, :]
  wins = np.where(both, (diff > 0) + 0.5 * (diff == 0), 0.0).sum((0, 1))
  with np.errstate(invalid="ignore", divide="ignore"):
    out["per_example_auc"] = np.where(tested, wins / lanes ** 2, np.nan)
  # Each held-out pair's targets alone, as `ulira`'s folds: the spread
  # over shadow pairs.
  folds = [float(metrics.roc_auc_score(
      np.r_[np.ones(m[j].sum()), np.zeros(m[j].sum())],
      np.r_[stat[0, j][m[j]], stat[1, j][m[j]]]))
           for j in range(k) if m[j].any()]
  out["fold_auc"] = folds
  out["auc_mean"], out["auc_std"] = float(np.mean(folds)), float(
      np.std(folds))
  out["num_examples"] = int(tested.sum())
  out["num_targets"] = int(labels.size)
  out["lanes_per_example"] = lanes.astype(int)
  return out


def ks_forget_quality(unlearned, retrained) -> dict:
  """KS forget quality of `(K, N)` scores.

  Returns `{"mean", "std"}`: the p-value of `ks_2samp(unlearned[k],
  retrained[k])` (model k's N scores against its retrained twin's), as
  mean and std over the K seeds; `"pooled"`: the p-value of the test on
  all K·N scores of each side; `"statistic"`: the pooled KS distance.
  """
  u, r = _pair(unlearned, retrained)
  per_seed = [stats.ks_2samp(a, b).pvalue for a, b in zip(u, r)]
  pooled = stats.ks_2samp(u.ravel(), r.ravel())
  return {"mean": float(np.mean(per_seed)), "std": float(np.std(per_seed)),
          "values": [float(p) for p in per_seed],
          "pooled": float(pooled.pvalue),
          "statistic": float(pooled.statistic)}


def epsilon_estimate(unlearned, retrained, *, delta: float = 0.01,
                     bin_width: float = 0.5) -> dict:
  """Per-example ε at `delta` from K unlearned and K retrained scores.

  Each threshold t on example i's 2K scores, in either direction, is an
  attack with a false-positive rate (retrained models called unlearned)
  and a false-negative rate (unlearned models called retrained). An
  (ε, δ) guarantee bounds both: FPR + e^ε FNR >= 1 - δ and FNR + e^ε FPR
  >= 1 - δ, so ε_i = max over attacks of log((1 - δ - FPR) / FNR) and
  log((1 - δ - FNR) / FPR) (0 if none is positive).

  Assumptions (ours, for few models): rates come from K models per side,
  so each is floored at 1 / (2K) and no ε above
  log((1 - δ - 1/(2K)) 2K) can be measured; the attacks are thresholds on one score, which lower-bounds
  the true ε. Example i scores 2^-n with n = floor(ε_i / bin_width), 1
  when no attack beats guessing; `"quality"` is the mean over examples.

  Returns:
    `{"quality", "epsilon_mean", "epsilon_max", "epsilon" (N,),
    "epsilon_cap"}`.
  """
  u, r = _pair(unlearned, retrained)
  k, n = u.shape
  floor = 1.0 / (2 * k)
  eps = np.zeros(n)
  for i in range(n):
    thresholds = np.unique(np.r_[u[:, i], r[:, i]])
    # "unlearned if s >= t": FPR = share of retrained >= t, FNR = share of
    # unlearned < t; the reverse direction swaps them.
    fpr = (r[:, i][None, :] >= thresholds[:, None]).mean(1)
    fnr = (u[:, i][None, :] < thresholds[:, None]).mean(1)
    best = 0.0
    for a, b in ((fpr, fnr), (1 - fpr, 1 - fnr)):  # both directions
      a, b = np.maximum(a, floor), np.maximum(b, floor)
      for num, den in ((1 - delta - a, b), (1 - delta - b, a)):
        ok = num > 0
        if np.any(ok):
          best = max(best, float(np.max(np.log(num[ok] / den[ok]))))
    eps[i] = best
  scores = 2.0 ** -np.floor(eps / bin_width)
  return {"quality": float(scores.mean()),
          "epsilon_mean": float(eps.mean()), "epsilon_max": float(eps.max()),
          "epsilon": eps,
          "epsilon_cap": float(np.log((1 - delta - floor) / floor))}

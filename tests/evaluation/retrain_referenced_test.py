"""U-LiRA, KS forget quality and the ε estimate on synthetic score
distributions whose answer is known, each against a plain numpy
computation written independently of the module."""

import math

import numpy as np
import pytest

from mmul_jax.evaluation import retrain_referenced as rr
import ulira_checks  # tests/ulira_checks.py


def _scores(k=8, n=200, shift=0.0, seed=0):
  rng = np.random.default_rng(seed)
  # Per-example means shared by both sides (examples differ in difficulty),
  # plus per-model noise; the unlearned side moved by `shift`.
  base = rng.normal(size=n)
  u = base + shift + 0.5 * rng.normal(size=(k, n))
  r = base + 0.5 * rng.normal(size=(k, n))
  return u, r


_auc, _logpdf = ulira_checks.auc, ulira_checks.logpdf


def _ulira_loops(u, r, per_example, ddof=1):
  k, n = u.shape
  pos, neg, folds = [], [], []
  for j in range(k):
    fold_start = len(pos)
    others = [m for m in range(k) if m != j]
    if not per_example:
      var_u = np.mean([np.var(u[others, i], ddof=ddof) for i in range(n)])
      var_r = np.mean([np.var(r[others, i], ddof=ddof) for i in range(n)])
    for i in range(n):
      mu_u, mu_r = u[others, i].mean(), r[others, i].mean()
      if per_example:
        var_u, var_r = (np.var(u[others, i], ddof=ddof),
                        np.var(r[others, i], ddof=ddof))
      for target, out in ((u[j, i], pos), (r[j, i], neg)):
        out.append(_logpdf(target, mu_u, np.sqrt(var_u))
                   - _logpdf(target, mu_r, np.sqrt(var_r)))
    folds.append(_auc(pos[fold_start:], neg[fold_start:]))
  return _auc(pos, neg), folds


@pytest.mark.parametrize("ddof", [1, 0])
@pytest.mark.parametrize("variance", ["global", "per_example"])
def test_ulira_matches_loops(variance, ddof):
  u, r = _scores(k=5, n=30, shift=0.4, seed=1)
  # Examples of different spread, so the variance estimate matters.
  u = u.mean(0) + (u - u.mean(0)) * np.linspace(0.5, 1.5, 30)
  got = rr.ulira(u, r, variance=variance, ddof=ddof)
  pooled, folds = _ulira_loops(u, r, variance == "per_example", ddof)
  assert got["auc"] == pytest.approx(pooled, abs=1e-12)
  np.testing.assert_allclose(got["fold_auc"], folds, atol=1e-12)
  assert got["auc_mean"] == pytest.approx(np.mean(folds), abs=1e-12)
  assert got["auc_std"] == pytest.approx(np.std(folds), abs=1e-12)
  assert got["per_example_auc"].shape == (30,)


def test_ulira_ddof_changes_the_test_and_is_checked():
  u, r = _scores(k=5, n=30, shift=0.4, seed=1)
  u = u.mean(0) + (u - u.mean(0)) * np.linspace(0.5, 1.5, 30)
  a1 = rr.ulira(u, r, variance="per_example", ddof=1)["auc"]
  a0 = rr.ulira(u, r, variance="per_example", ddof=0)["auc"]
  assert a0 != a1
  with pytest.raises(ValueError, match="ddof"):
    rr.ulira(u, r, ddof=2)


def _best_tpr(labels, scores, fpr):
  """The best deterministic threshold "positive if score >= t" whose FPR
  is at most `fpr`, by trying every threshold."""
  best = 0.0
  for t in np.unique(scores):
    hit = scores >= t
    if np.mean(hit[labels == 0]) <= fpr:
      best = max(best, float(np.mean(hit[labels == 1])))
  return best


def test_tpr_at_fpr_with_ties_finds_the_best_threshold():
  # Tied scores put ROC points on straight lines; sklearn's default
  # drop_intermediate=True removed the best point under 20 % FPR here
  # (0.125 instead of 0.375).
  labels = np.r_[np.ones(8), np.zeros(10)]
  scores = np.array([1, 1, 2, 0, 4, 2, 3, 3, 0, 0, 0, 4, 0, 1, 0, 2, 1, 3],
                    float)
  assert rr.tpr_at_fpr(labels, scores, 0.2) == pytest.approx(0.375)
  rng = np.random.default_rng(0)
  for _ in range(200):
    s = rng.integers(0, 6, 30).astype(float)
    lab = np.r_[np.ones(12), np.zeros(18)]
    for f in (0.05, 0.2, 0.5):
      assert rr.tpr_at_fpr(lab, s, f) == pytest.approx(
          _best_tpr(lab, s, f), abs=1e-12)


def test_ulira_identical_distributions_is_chance():
  u, r = _scores(shift=0.0, seed=2)
  got = rr.ulira(u, r)
  assert abs(got["auc"] - 0.5) < 0.03
  assert got["tpr@0.01"] < 0.05
  # The same scores on both sides: nothing at all to tell apart.
  assert rr.ulira(r, r)["auc"] == 0.5


def test_ulira_separated_distributions_near_one():
  u, r = _scores(shift=3.0, seed=3)
  got = rr.ulira(u, r)
  assert got["auc"] > 0.98
  assert got["tpr@0.05"] > 0.9
  assert np.mean(got["per_example_auc"]) > 0.95


def test_ulira_probabilities_on_logit_scale():
  u, r = _scores(k=4, n=20, shift=1.0, seed=4)
  sig = lambda x: 1 / (1 + np.exp(-x))
  got = rr.ulira(sig(u), sig(r), probability=True)
  assert got["auc"] == pytest.approx(rr.ulira(u, r)["auc"], abs=1e-6)


def test_ulira_rejects_bad_shapes():
  with pytest.raises(ValueError, match="at least 3"):
    rr.ulira(np.zeros((2, 5)), np.zeros((2, 5)))
  with pytest.raises(ValueError, match="one shape"):
    rr.ulira(np.zeros((4, 5)), np.zeros((4, 6)))


def _ks_statistic(a, b):
  grid = np.r_[a, b]
  cdf = lambda x: np.mean(x[:, None] <= grid[None, :], axis=0)
  return float(np.max(np.abs(cdf(a) - cdf(b))))


def test_ks_forget_quality():
  same_u, same_r = _scores(shift=0.0, seed=5)
  moved_u, moved_r = _scores(shift=1.5, seed=5)
  same = rr.ks_forget_quality(same_u, same_r)
  moved = rr.ks_forget_quality(moved_u, moved_r)
  assert same["mean"] > 0.1 and same["pooled"] > 0.05
  assert moved["mean"] < 1e-3 and moved["pooled"] < 1e-10
  assert moved["statistic"] == pytest.approx(
      _ks_statistic(moved_u.ravel(), moved_r.ravel()), abs=1e-12)
  # The asymptotic two-sample p-value (Smirnov) of the pooled statistic.
  m = same_u.size
  d = _ks_statistic(same_u.ravel(), same_r.ravel())
  lam = d * math.sqrt(m * m / (2 * m))
  asymptotic = 2 * sum((-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam)
                       for j in range(1, 100))
  assert same["pooled"] == pytest.approx(min(1.0, asymptotic), abs=0.02)
  assert len(same["values"]) == 8
  assert same["std"] == pytest.approx(np.std(same["values"]))


def _epsilon_loops(u, r, delta):
  k = len(u)
  floor = 1 / (2 * k)
  best = 0.0
  for t in sorted(set(u) | set(r)):
    for above in (True, False):
      called_u = (lambda s: s >= t) if above else (lambda s: s < t)
      fpr = max(np.mean([called_u(s) for s in r]), floor)
      fnr = max(np.mean([not called_u(s) for s in u]), floor)
      for num, den in ((1 - delta - fpr, fnr), (1 - delta - fnr, fpr)):
        if num > 0:
          best = max(best, math.log(num / den))
  return best


def test_epsilon_estimate_matches_loops():
  u, r = _scores(k=6, n=12, shift=1.0, seed=6)
  got = rr.epsilon_estimate(u, r, delta=0.05)
  want = [_epsilon_loops(u[:, i], r[:, i], 0.05) for i in range(12)]
  np.testing.assert_allclose(got["epsilon"], want, atol=1e-12)
  assert got["quality"] == pytest.approx(
      np.mean([2.0 ** -math.floor(e / 0.5) for e in want]))


def test_epsilon_estimate_known_answers():
  u, r = _scores(k=8, n=50, shift=0.0, seed=7)
  same = rr.epsilon_estimate(r, r)
  assert same["epsilon_max"] == 0.0 and same["quality"] == 1.0
  far = rr.epsilon_estimate(u + 100.0, r, delta=0.01)
  # Perfectly separated: every example at the measurable cap.
  np.testing.assert_allclose(far["epsilon"], far["epsilon_cap"])
  assert far["epsilon_cap"] == pytest.approx(math.log((0.99 - 1 / 16) * 16))
  assert far["quality"] == 2.0 ** -math.floor(far["epsilon_cap"] / 0.5)

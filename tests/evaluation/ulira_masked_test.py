"""`ulira_masked`: U-LiRA when each shadow pair forgot its own deletion set
from a common pool. Checked against `ulira` (an all-True mask is the same
test), against plain loops written independently of the module, and on
synthetic score distributions whose answer is known."""


import numpy as np
import pytest

from mmul_jax.evaluation import retrain_referenced as rr
import ulira_checks  # tests/ulira_checks.py


def _scores(k=8, n=300, shift=0.0, p=0.5, seed=0):
  """Per-example difficulty shared by both sides plus per-model noise;
  the unlearned side moved by `shift` where the pair forgot the example,
  and a random deletion mask of rate `p`."""
  rng = np.random.default_rng(seed)
  base = rng.normal(size=n)
  mask = rng.random((k, n)) < p
  u = base + 0.5 * rng.normal(size=(k, n)) + shift * mask
  r = base + 0.5 * rng.normal(size=(k, n))
  return u, r, mask


_auc, _logpdf = ulira_checks.auc, ulira_checks.logpdf


def _masked_loops(u, r, mask, per_example, ddof=1, min_models=3):
  """The protocol one (held-out lane, example) at a time; "global" pools
  squared deviations over the examples that hold lane j out."""
  k, n = u.shape
  tested = [i for i in range(n) if mask[:, i].sum() >= min_models]
  pos, neg, per = [], [], {i: ([], []) for i in tested}
  for j in range(k):
    held = [i for i in tested if mask[j, i]]
    fits = {}
    for i in held:
      others = [m for m in range(k) if m != j and mask[m, i]]
      fits[i] = [(side[others, i].mean(),
                  np.sum((side[others, i] - side[others, i].mean()) ** 2),
                  len(others) - ddof) for side in (u, r)]
    pooled = [sum(fits[i][s][1] for i in held)
              / max(sum(fits[i][s][2] for i in held), 1) for s in (0, 1)]
    for i in held:
      (mu_u, ss_u, dof_u), (mu_r, ss_r, dof_r) = fits[i]
      var_u, var_r = ((ss_u / dof_u, ss_r / dof_r) if per_example
                      else pooled)
      for target, out, lab in ((u[j, i], pos, 0), (r[j, i], neg, 1)):
        s = (_logpdf(target, mu_u, np.sqrt(var_u))
             - _logpdf(target, mu_r, np.sqrt(var_r)))
        out.append(s)
        per[i][lab].append(s)
  per_auc = np.full(n, np.nan)
  for i in tested:
    per_auc[i] = _auc(*per[i])
  return _auc(pos, neg), per_auc, 2 * len(pos)


@pytest.mark.parametrize("ddof", [1, 0])
@pytest.mark.parametrize("variance", ["global", "per_example"])
def test_full_mask_is_ulira(variance, ddof):
  u, r, _ = _scores(k=6, n=60, shift=0.4, seed=1)
  # Examples of different spread, so the variance estimate matters.
  u = u.mean(0) + (u - u.mean(0)) * np.linspace(0.5, 1.5, 60)
  full = np.ones(u.shape, bool)
  want = rr.ulira(u, r, variance=variance, ddof=ddof, fprs=(0.01, 0.05, 0.2))
  got = rr.ulira_masked(u, r, full, variance=variance, ddof=ddof,
                        fprs=(0.01, 0.05, 0.2))
  for key in ("auc", "tpr@0.01", "tpr@0.05", "tpr@0.2"):
    assert got[key] == pytest.approx(want[key], abs=1e-12), key
  np.testing.assert_allclose(got["per_example_auc"], want["per_example_auc"],
                             atol=1e-12)
  assert got["num_examples"] == 60
  assert got["num_targets"] == 2 * 6 * 60
  np.testing.assert_array_equal(got["lanes_per_example"], np.full(60, 6))


def test_full_mask_is_ulira_on_probabilities():
  u, r, _ = _scores(k=5, n=40, shift=0.7, seed=2)
  sig = lambda x: 1 / (1 + np.exp(-x))
  full = np.ones(u.shape, int)  # 0/1 masks are accepted too
  for variance in ("global", "per_example"):
    want = rr.ulira(sig(u), sig(r), probability=True, variance=variance)
    got = rr.ulira_masked(sig(u), sig(r), full, probability=True,
                          variance=variance)
    assert got["auc"] == pytest.approx(want["auc"], abs=1e-12)
    assert got["tpr@0.05"] == pytest.approx(want["tpr@0.05"], abs=1e-12)


@pytest.mark.parametrize("ddof", [1, 0])
@pytest.mark.parametrize("variance", ["global", "per_example"])
def test_random_masks_match_loops(variance, ddof):
  u, r, mask = _scores(k=7, n=40, shift=0.3, p=0.6, seed=3)
  u = u.mean(0) + (u - u.mean(0)) * np.linspace(0.5, 1.5, 40)
  got = rr.ulira_masked(u, r, mask, variance=variance, ddof=ddof)
  auc, per_auc, targets = _masked_loops(u, r, mask,
                                        variance == "per_example", ddof)
  assert got["auc"] == pytest.approx(auc, abs=1e-12)
  np.testing.assert_allclose(got["per_example_auc"], per_auc, atol=1e-12)
  assert got["num_targets"] == targets
  assert 0 < got["num_examples"] < 40  # some examples have < 3 lanes


def test_identical_distributions_is_chance():
  u, r, mask = _scores(k=8, n=300, shift=0.0, p=0.5, seed=4)
  got = rr.ulira_masked(u, r, mask)
  assert abs(got["auc"] - 0.5) < 0.05
  assert got["tpr@0.01"] < 0.05
  # The same scores on both sides: nothing at all to tell apart.
  assert rr.ulira_masked(r, r, mask)["auc"] == 0.5


def test_shifted_unlearned_side_is_detected():
  u, r, mask = _scores(k=8, n=300, shift=2.0, p=0.5, seed=5)
  got = rr.ulira_masked(u, r, mask)
  assert got["auc"] > 0.9
  assert got["tpr@0.05"] > 0.9
  assert np.nanmean(got["per_example_auc"]) > 0.9


@pytest.mark.parametrize("variance", ["global", "per_example"])
def test_entries_outside_the_mask_are_ignored(variance):
  u, r, mask = _scores(k=8, n=100, shift=0.5, p=0.5, seed=6)
  # Make some examples untested: their in-mask lanes must not count either.
  mask[:, :5] = False
  mask[:2, :5] = True
  want = rr.ulira_masked(u, r, mask, variance=variance)
  rng = np.random.default_rng(7)
  wild = rng.choice([1e30, -1e30, np.inf, -np.inf, np.nan, 123.0],
                    size=u.shape)
  u2, r2 = np.where(mask, u, wild), np.where(mask, r, wild[::-1])
  u2[:, :5], r2[:, :5] = 1e6 * rng.normal(size=(2, 8, 5))
  got = rr.ulira_masked(u2, r2, mask, variance=variance)
  assert got["auc"] == want["auc"]
  assert got["tpr@0.01"] == want["tpr@0.01"]
  assert got["tpr@0.05"] == want["tpr@0.05"]
  np.testing.assert_array_equal(got["per_example_auc"],
                                want["per_example_auc"])
  # Probabilities too (out-of-range values outside the mask).
  sig = lambda x: 1 / (1 + np.exp(-x))
  p_want = rr.ulira_masked(sig(u), sig(r), mask, probability=True)
  p_got = rr.ulira_masked(np.where(mask, sig(u), wild),
                          np.where(mask, sig(r), -5.0), mask,
                          probability=True)
  assert p_got["auc"] == p_want["auc"]


def test_examples_with_too_few_lanes_are_excluded():
  u, r, mask = _scores(k=6, n=50, shift=1.0, p=0.5, seed=8)
  mask[:, 0] = [1, 1, 0, 0, 0, 0]  # 2 lanes: untested
  mask[:, 1] = [1, 1, 1, 0, 0, 0]  # 3: tested, but not at min_models=4
  mask[:, 2] = False
  got = rr.ulira_masked(u, r, mask)
  lanes = mask.sum(0)
  np.testing.assert_array_equal(got["lanes_per_example"], lanes)
  assert np.all(np.isnan(got["per_example_auc"][lanes < 3]))
  assert not np.any(np.isnan(got["per_example_auc"][lanes >= 3]))
  assert got["num_examples"] == int(np.sum(lanes >= 3))
  assert got["num_targets"] == 2 * int(lanes[lanes >= 3].sum())
  # Untested examples are as good as absent from the pool.
  keep = lanes >= 3
  alone = rr.ulira_masked(u[:, keep], r[:, keep], mask[:, keep])
  assert got["auc"] == pytest.approx(alone["auc"], abs=1e-12)
  four = rr.ulira_masked(u, r, mask, min_models=4)
  assert np.isnan(four["per_example_auc"][1])
  assert four["num_examples"] == int(np.sum(lanes >= 4))


def test_no_testable_example_raises():
  u, r, _ = _scores(k=4, n=20, seed=9)
  sparse = np.zeros(u.shape, bool)
  sparse[np.arange(4), np.arange(4)] = True  # one lane per example at most
  with pytest.raises(ValueError, match=r"at least 3 pairs.*more than 1 of "
                     r"the 4.*about 60 pairs or a pool of at most 1"):
    rr.ulira_masked(u, r, sparse)
  with pytest.raises(ValueError, match="all False"):
    rr.ulira_masked(u, r, np.zeros(u.shape, bool))
  with pytest.raises(ValueError, match="at least 5"):
    rr.ulira_masked(u, r, np.ones(u.shape, bool), min_models=5)


def test_rejects_bad_inputs():
  u, r, mask = _scores(k=4, n=10, seed=10)
  with pytest.raises(ValueError, match="one shape"):
    rr.ulira_masked(u, r[:, :9], mask)
  with pytest.raises(ValueError, match="mask must be a"):
    rr.ulira_masked(u, r, mask[:, :9])
  with pytest.raises(ValueError, match="boolean"):
    rr.ulira_masked(u, r, np.full(u.shape, 0.5))
  with pytest.raises(ValueError, match="boolean"):
    rr.ulira_masked(u, r, np.full(u.shape, "yes"))
  with pytest.raises(ValueError, match="ddof"):
    rr.ulira_masked(u, r, mask, ddof=2)
  with pytest.raises(ValueError, match="variance"):
    rr.ulira_masked(u, r, mask, variance="pooled")
  with pytest.raises(ValueError, match="min_models"):
    rr.ulira_masked(u, r, mask, min_models=2)


@pytest.mark.parametrize("ddof", [1, 0])
def test_tiny_case_by_hand(ddof):
  u = np.array([[1.0], [2.0], [4.0]])
  r = np.array([[0.0], [0.5], [3.0]])
  pos, neg = [], []
  for j in range(3):
    o = [m for m in range(3) if m != j]
    # Two models per side: the sum of squares over (3 - 1) - ddof.
    mu_u, mu_r = u[o, 0].mean(), r[o, 0].mean()
    var_u = ((u[o, 0] - mu_u) ** 2).sum() / (2 - ddof)
    var_r = ((r[o, 0] - mu_r) ** 2).sum() / (2 - ddof)
    lr = lambda s: (-0.5 * (s - mu_u) ** 2 / var_u - 0.5 * np.log(var_u)
                    + 0.5 * (s - mu_r) ** 2 / var_r + 0.5 * np.log(var_r))
    pos.append(lr(u[j, 0]))
    neg.append(lr(r[j, 0]))
  want = np.mean([[(p > q) + 0.5 * (p == q) for q in neg] for p in pos])
  for variance in ("global", "per_example"):
    got = rr.ulira_masked(u, r, np.ones((3, 1), bool), variance=variance,
                          ddof=ddof)
    assert got["auc"] == pytest.approx(want, abs=1e-12)
    assert got["per_example_auc"][0] == pytest.approx(want, abs=1e-12)
    assert got["num_examples"] == 1 and got["num_targets"] == 6


def test_fold_aucs_are_each_held_out_pairs_and_match_ulira_with_a_full_mask():
  rng = np.random.default_rng(11)
  u = rng.normal(0.5, 1.0, (5, 40))
  r = rng.normal(0.0, 1.0, (5, 40))
  full = rr.ulira_masked(u, r, np.ones((5, 40), bool))
  plain = rr.ulira(u, r)
  np.testing.assert_allclose(full["fold_auc"], plain["fold_auc"], atol=1e-12)
  assert full["auc_mean"] == pytest.approx(plain["auc_mean"])
  assert full["auc_std"] == pytest.approx(plain["auc_std"])

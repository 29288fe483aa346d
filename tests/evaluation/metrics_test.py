"""Retrieval recall and the Df-vs-Dr AUC against independent computations."""

import numpy as np
import pytest
from scipy import stats

from mmul_jax import errors
from mmul_jax.evaluation import deletion_auc
from mmul_jax.evaluation import report
from mmul_jax.evaluation import retrieval


def _brute_force_recall(sim, owner, k):
  n_img, n_txt = sim.shape
  i2t = []
  for i in range(n_img):
    order = np.argsort(-sim[i], kind="stable")
    i2t.append(any(owner[j] == i for j in order[:k]))
  t2i = []
  for j in range(n_txt):
    order = np.argsort(-sim[:, j], kind="stable")
    t2i.append(owner[j] in order[:k])
  return 100 * np.mean(i2t), 100 * np.mean(t2i)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recall_matches_brute_force(seed):
  rng = np.random.default_rng(seed)
  owner = np.repeat(np.arange(12), 3)
  sim = rng.normal(size=(12, 36))
  got = retrieval.recall_at_k(sim, owner, ks=(1, 5))
  for k in (1, 5):
    i2t, t2i = _brute_force_recall(sim, owner, k)
    assert got[f"i2t_r{k}"] == pytest.approx(i2t)
    assert got[f"t2i_r{k}"] == pytest.approx(t2i)
    assert got[f"r{k}_mean"] == pytest.approx((i2t + t2i) / 2)


def test_recall_of_a_perfect_and_a_constant_scorer():
  owner = np.repeat(np.arange(4), 2)
  perfect = (owner[None, :] == np.arange(4)[:, None]).astype(float)
  assert retrieval.recall_at_k(perfect, owner, ks=(1,))["r1_mean"] == 100
  # Ties count against the right answer: a constant scorer gets nothing.
  flat = np.zeros((4, 8))
  assert retrieval.recall_at_k(flat, owner, ks=(1,))["r1_mean"] == 0


def test_auc_equals_mann_whitney_on_each_sample():
  rng = np.random.default_rng(0)
  df = rng.normal(0, 1, 40)
  dr = rng.normal(0.5, 1, 400)
  got = deletion_auc.df_vs_dr_auc(df, dr, num_samples=5, seed=7)
  pick = np.random.default_rng(7).permutation(400)
  expected = []
  for i in range(5):
    sample = dr[pick[i * 40:(i + 1) * 40]]
    u = stats.mannwhitneyu(sample, df).statistic  # Dr ranked above Df
    expected.append(u / (40 * 40))
  np.testing.assert_allclose(got["values"], expected)
  assert got["mean"] == pytest.approx(np.mean(expected))
  assert got["std"] == pytest.approx(np.std(expected))
  # The samples are disjoint.
  chunks = [set(pick[i * 40:(i + 1) * 40]) for i in range(5)]
  assert sum(len(c) for c in chunks) == len(set().union(*chunks))


def test_auc_needs_enough_retained_pairs():
  with pytest.raises(errors.ConfigError, match="disjoint Dr samples"):
    deletion_auc.df_vs_dr_auc(np.zeros(10), np.zeros(30), num_samples=5)


def test_auc_progress():
  assert report.auc_progress(0.5, 0.7, 0.66) == pytest.approx(0.8)
  assert report.auc_progress(0.5, 0.7, 0.8) == pytest.approx(1.5)
  assert report.auc_progress(0.5, 0.5, 0.6) is None


def test_differences_names_changed_values_and_ignores_times():
  a = {"models": {"m": {"test": {"r1": 50.0, "nan": float("nan")},
                        "wall_seconds": 3.0}}, "devices": ["cpu:0"]}
  b = {"models": {"m": {"test": {"r1": 50.0, "nan": float("nan")},
                        "wall_seconds": 9.0}}, "devices": ["gpu:0"]}
  assert report.differences(a, b) == []
  b["models"]["m"]["test"]["r1"] = 50.5
  b["models"]["m"]["extra"] = [1]
  assert report.differences(a, b) == ["models/m/extra/0", "models/m/test/r1"]

"""MMUL's losses against hand-computed numpy values, and the derangement."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax.losses import _mmul


def _unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_modality_decoupling_small_hand_computed():
  # With identity images, S = V Tᵀ = Tᵀ: write S and S' out by hand.
  sim = np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)
  target = np.array([[0.3, 0.0], [0.1, 0.4]], np.float32)
  eye = np.eye(2, dtype=np.float32)
  # squared errors: [[0.36, 0.01], [0.01, 0.16]]
  # row means: [0.185, 0.085]; column means: [0.185, 0.085]
  per_example = _mmul.modality_decoupling(eye, sim.T, eye, target.T)
  np.testing.assert_allclose(per_example, [0.37, 0.17], rtol=1e-6)
  # batch mean = MSE(S, S') + MSE(Sᵀ, S'ᵀ) = 2 * 0.135
  np.testing.assert_allclose(np.mean(per_example), 0.27, rtol=1e-6)


def test_modality_decoupling_matches_reference_formula():
  rng = np.random.default_rng(0)
  v, t, v0, t0 = (_unit(rng.normal(size=(6, 8))) for _ in range(4))
  perm = np.array([1, 2, 0, 4, 5, 3])
  s, s0 = v @ t.T, v0 @ t0[perm].T
  expected = np.mean((s - s0) ** 2) + np.mean((s.T - s0.T) ** 2)
  got = _mmul.modality_decoupling(v, t, v0, t0[perm])
  np.testing.assert_allclose(np.mean(got), expected, rtol=1e-5)


def test_unimodal_retention_hand_computed():
  e_img = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
  f_img = np.array([[0.0, 0.0], [0.0, 1.0]], np.float32)
  e_txt = np.array([[0.5, 0.5], [1.0, 1.0]], np.float32)
  f_txt = np.array([[0.5, 0.5], [0.0, 1.0]], np.float32)
  # image rows: [0.5, 0]; text rows: [0, 0.5]
  got = _mmul.unimodal_retention((e_img, e_txt), (f_img, f_txt))
  np.testing.assert_allclose(got, [0.5, 0.5])


def test_unimodal_retention_on_token_sequences():
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(2, 3, 5, 4))
  got = _mmul.unimodal_retention((a,), (b,))
  np.testing.assert_allclose(got, ((a - b) ** 2).mean(axis=(1, 2)),
                             rtol=1e-5)


def test_multimodal_retention_hand_computed():
  h = np.array([[1.0, 2.0, 3.0]], np.float32)
  h0 = np.array([[1.0, 0.0, 0.0]], np.float32)
  np.testing.assert_allclose(_mmul.multimodal_retention(h, h0), [13 / 3],
                             rtol=1e-6)


@pytest.mark.parametrize("ids", [
    list(range(8)),
    [3, 3, 5, 5, 7, 7, 9, 9],
    [1, 1, 1, 2, 3, 4],
    [10, 10, 10, 10, 11, 12, 13, 14],
    [0, 1],
])
def test_derangement_never_pairs_an_item_with_its_own_id(ids):
  ids = jnp.asarray(ids)
  fn = jax.jit(_mmul.derangement)
  seen = set()
  for seed in range(50):
    perm, valid = fn(jax.random.key(seed), ids)
    perm = np.asarray(perm)
    assert bool(valid)
    assert sorted(perm.tolist()) == list(range(len(ids)))  # a permutation
    assert np.all(np.asarray(ids)[perm] != np.asarray(ids))
    seen.add(tuple(perm.tolist()))
  if len(ids) > 3:
    assert len(seen) > 3  # random, not one fixed pattern


def test_derangement_reports_impossible_batches():
  _, valid = _mmul.derangement(jax.random.key(0), jnp.asarray([4, 4, 4, 5]))
  assert not bool(valid)


def test_losses_compile_once_and_are_finite():
  @jax.jit
  @chex.assert_max_traces(n=1)
  def total(rng, v, t, h, h0):
    perm, _ = _mmul.derangement(rng, jnp.arange(v.shape[0]))
    md = _mmul.modality_decoupling(v, t, v, t[perm])
    ukr = _mmul.unimodal_retention((v, t), (t, v))
    mkr = _mmul.multimodal_retention(h, h0)
    return jnp.mean(md) + jnp.mean(ukr) + jnp.mean(mkr)

  rng = np.random.default_rng(0)
  for i in range(3):
    args = [jnp.asarray(_unit(rng.normal(size=(4, 6))), jnp.float32)
            for _ in range(4)]
    out = total(jax.random.key(i), *args)
    assert np.isfinite(float(out))

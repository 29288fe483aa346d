"""Distillation losses against numpy."""

import chex
import jax
import numpy as np
import pytest

from mmul_jax import losses


def _softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _np_kl(t, s, tau):
  p, q = _softmax(t / tau), _softmax(s / tau)
  with np.errstate(divide="ignore", invalid="ignore"):
    terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
  return tau ** 2 * terms.sum(-1)


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_kl_divergence_matches_numpy(tau):
  r = np.random.default_rng(0)
  t, s = r.normal(size=(2, 5, 7)).astype(np.float32) * 3
  got = losses.kl_divergence(t, s, temperature=tau)
  np.testing.assert_allclose(got, _np_kl(t, s, tau), rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(losses.kl_divergence(t, t, temperature=tau),
                             0.0, atol=1e-5)


def test_decoupled_distillation_masks_the_true_class():
  r = np.random.default_rng(1)
  t, s = r.normal(size=(2, 4, 6)).astype(np.float32)
  mask = np.zeros((4, 6), bool)
  mask[np.arange(4), [0, 3, 5, 1]] = True
  got = losses.decoupled_distillation(t, s, mask, temperature=2.0,
                                      mask_value=-1e9)
  # numpy: the teacher distribution over the other classes only.
  p = _softmax(np.where(mask, -np.inf, t / 2.0))
  q = _softmax(s / 2.0)
  with np.errstate(divide="ignore", invalid="ignore"):
    expected = 4.0 * np.where(p > 0, p * (np.log(p) - np.log(q)), 0).sum(-1)
  np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_l1_norm_matches_numpy():
  tree = {"a": np.array([[1.0, -2.0]], np.float32),
          "b": {"c": np.array([-0.5], np.float32)}}
  np.testing.assert_allclose(losses.l1_norm(tree), 3.5)


def test_distillation_losses_are_finite_and_compile_once():
  @jax.jit
  @chex.assert_max_traces(n=1)
  def total(t, s, m):
    return (losses.kl_divergence(t, s, temperature=4.0).mean()
            + losses.decoupled_distillation(t, s, m).mean()
            + losses.l1_norm(s))

  r = np.random.default_rng(2)
  for _ in range(3):
    t, s = r.normal(size=(2, 3, 5)).astype(np.float32) * 50  # large logits
    m = np.eye(3, 5, dtype=bool)
    assert np.isfinite(float(total(t, s, m)))
    grads = jax.grad(lambda s: total(t, s, m))(s)
    assert np.all(np.isfinite(grads))

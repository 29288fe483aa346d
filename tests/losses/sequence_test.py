"""The language-model losses against numpy written out here: the
answer's NLL with the prompt masked, NPO and DPO on summed NLLs (as
OpenUnlearning), SimNPO, the token KL, the hidden-state losses and RMU;
and their gradients where the method depends on them (NPO's fades,
SimNPO needs no reference)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import losses


def _log_softmax(z):
  z = z - z.max(-1, keepdims=True)
  return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _log_sigmoid(x):
  return -np.log1p(np.exp(-x))


@pytest.fixture
def case():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(3, 5, 11)).astype(np.float32)
  ref = rng.normal(size=(3, 5, 11)).astype(np.float32)
  labels = rng.integers(0, 11, (3, 5))
  mask = np.array([[0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 1, 1]], bool)
  return logits, ref, labels, mask


def _nll(logits, labels, mask):
  lp = _log_softmax(logits.astype(np.float64))
  out = []
  for i in range(len(labels)):
    out.append(-sum(lp[i, t, labels[i, t]] for t in range(labels.shape[1])
                    if mask[i, t]))
  return np.array(out)


def test_sequence_nll_masks_the_prompt(case):
  logits, _, labels, mask = case
  total = _nll(logits, labels, mask)
  np.testing.assert_allclose(
      losses.sequence_nll(logits, labels, mask, reduction="sum"), total,
      rtol=1e-5)
  np.testing.assert_allclose(losses.sequence_nll(logits, labels, mask),
                             total / mask.sum(-1), rtol=1e-5)
  with pytest.raises(ValueError, match="reduction 'max'"):
    losses.sequence_nll(logits, labels, mask, reduction="max")


def test_npo_dpo_and_simnpo_by_formula(case):
  logits, ref, labels, mask = case
  nll, ref_nll = _nll(logits, labels, mask), _nll(ref, labels, mask)
  beta = 0.1
  np.testing.assert_allclose(
      losses.sequence_npo(nll, ref_nll, beta=beta),
      -(2 / beta) * _log_sigmoid(beta * (nll - ref_nll)), rtol=1e-5)
  win, win_ref = nll[::-1].copy(), ref_nll[::-1].copy()
  ratio = (win_ref - win) - (ref_nll - nll)
  np.testing.assert_allclose(
      losses.dpo(win, win_ref, nll, ref_nll, beta=beta),
      -(2 / beta) * _log_sigmoid(beta * ratio), rtol=1e-5)
  mean = nll / mask.sum(-1)
  np.testing.assert_allclose(
      losses.simnpo(mean, beta=4.5, delta=0.5),
      -(2 / 4.5) * _log_sigmoid(4.5 * (mean - 0.5)), rtol=1e-5)
  # NPO without a win answer is DPO's lose half.
  np.testing.assert_allclose(
      losses.dpo(ref_nll, ref_nll, nll, ref_nll, beta=beta),
      losses.sequence_npo(nll, ref_nll, beta=beta), rtol=1e-5)


def test_npo_gradient_is_ascents_at_the_reference_and_fades(case):
  logits, _, labels, mask = case
  nll = lambda z: losses.sequence_nll(z, labels, mask, reduction="sum")
  at_ref = jax.grad(lambda z: losses.sequence_npo(
      nll(z), jax.lax.stop_gradient(nll(z)), beta=0.1).sum())(logits)
  ascent = jax.grad(lambda z: -nll(z).sum())(logits)
  np.testing.assert_allclose(at_ref, ascent, rtol=1e-4, atol=1e-6)
  far = jax.grad(lambda z: losses.sequence_npo(
      nll(z), jax.lax.stop_gradient(nll(z)) - 200.0, beta=0.1).sum())(
          logits)
  assert float(jnp.abs(far).max()) < 1e-6


def test_token_kl_and_hidden_losses(case):
  logits, ref, labels, mask = case
  ls, lr = _log_softmax(logits.astype(np.float64)), _log_softmax(
      ref.astype(np.float64))
  kl = (np.exp(lr) * (lr - ls)).sum(-1)
  want = (kl * mask).sum(-1) / mask.sum(-1)
  np.testing.assert_allclose(losses.token_kl(logits, ref, mask), want,
                             rtol=1e-5)
  assert np.allclose(losses.token_kl(ref, ref, mask), 0, atol=1e-6)
  rng = np.random.default_rng(1)
  h, h0 = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 5, 4))
  sq = ((h - h0) ** 2).mean(-1)
  np.testing.assert_allclose(losses.hidden_mse(h, h0, mask),
                             (sq * mask).sum(-1) / mask.sum(-1), rtol=1e-5)
  u = np.array([3.0, 0.0, 4.0, 0.0])
  target = 2.0 * u / 5.0
  sq = ((h - target) ** 2).mean(-1)
  np.testing.assert_allclose(
      losses.rmu_forget(h, mask, u, coefficient=2.0),
      (sq * mask).sum(-1) / mask.sum(-1), rtol=1e-5)

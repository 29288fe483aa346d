"""SuperLoss against scipy's Lambert W and the closed-form optimum."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from mmul_jax import losses


def test_lambert_w0_matches_scipy():
  x = np.concatenate([np.linspace(-1 / np.e + 1e-6, 0.5, 400),
                      np.linspace(0.5, 60.0, 200)]).astype(np.float32)
  got = np.asarray(losses.lambert_w0(jnp.asarray(x)))
  want = special.lambertw(x.astype(np.float64)).real
  np.testing.assert_allclose(got, want, atol=2e-5)
  assert float(losses.lambert_w0(-1 / np.e - 0.1)) == -1.0


def test_confidence_is_the_minimiser_of_the_superloss():
  values = jnp.asarray([0.1, 0.8, 1.0, 2.5, 9.0])
  tau, lam = 1.0, 2.0
  sigma = np.asarray(losses.superloss_confidence(values, tau, lam))
  # Minimise (l - tau) s + lam log(s)^2 over s on a fine grid.
  grid = np.exp(np.linspace(-5, 3, 200001))
  for l, s in zip(np.asarray(values), sigma):
    objective = (l - tau) * grid + lam * np.log(grid) ** 2
    assert s == pytest.approx(grid[np.argmin(objective)], rel=1e-3)
  assert sigma[0] > 1 > sigma[-1]  # easy up, hard down
  assert sigma[2] == pytest.approx(1.0)


def test_superloss_reweights_and_tracks_tau():
  values = jnp.asarray([0.5, 1.0, 4.0])
  fn = lambda p, f, b, rng: (values * p, {})
  term = losses.superloss(fn, lam=1.0, momentum=0.5)
  state = term.init(None)
  loss, aux, state = term.apply(state, 1.0, None, {}, rng=None)
  tau0 = float(jnp.mean(values))
  sigma = losses.superloss_confidence(values, tau0, 1.0)
  np.testing.assert_allclose(loss, jnp.mean(sigma * values), rtol=1e-6)
  assert float(aux["superloss_tau"]) == pytest.approx(tau0)
  _, aux, state = term.apply(state, 2.0, None, {}, rng=None)
  assert float(aux["superloss_tau"]) == pytest.approx(tau0)  # EMA of tau0
  assert float(state.tau) == pytest.approx(0.5 * tau0 + 0.5 * 2 * tau0)
  # No gradient through the confidence: d/dp mean(sigma * values * p).
  grad = jax.grad(lambda p: term.apply(term.init(None), p, None, {},
                                       rng=None)[0])(1.0)
  np.testing.assert_allclose(grad, jnp.mean(sigma * values), rtol=1e-6)


def test_full_superloss_and_compiles_once():
  fn = lambda p, f, b, rng: (b["x"] * p, {})
  term = losses.superloss(fn, lam=2.0, full=True)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(state, p, b):
    return term.apply(state, p, None, b, rng=None)

  state = term.init(None)
  for i in range(3):
    b = {"x": jnp.asarray([0.2, 1.0, 3.0]) + i}
    loss, _, new_state = step(state, 1.5, b)
    tau = b["x"].mean() * 1.5 if i == 0 else state.tau
    sigma = losses.superloss_confidence(b["x"] * 1.5, tau, 2.0)
    want = jnp.mean((b["x"] * 1.5 - tau) * sigma + 2.0 * jnp.log(sigma) ** 2)
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    state = new_state

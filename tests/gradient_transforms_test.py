"""The optax transformations of the methods against numpy."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mmul_jax import gradient_transforms as gt
from mmul_jax import optim

PARAMS = {"k": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.0,
          "b": np.array([0.5, -0.5], np.float32)}


def _updates(seed=0):
  r = np.random.default_rng(seed)
  return jax.tree.map(lambda p: r.normal(size=p.shape).astype(np.float32),
                      PARAMS)


def test_mask_updates_zeroes_masked_entries_only():
  mask = {"k": np.array([[1, 0, 1], [0, 0, 1]], np.float32),
          "b": np.array([0, 1], np.float32)}
  tx = optax.chain(gt.mask_updates(mask), optax.sgd(0.1))
  u = _updates()
  out, _ = tx.update(u, tx.init(PARAMS), PARAMS)
  for k in PARAMS:
    np.testing.assert_allclose(out[k], -0.1 * u[k] * mask[k], rtol=1e-6)


def test_perturb_adds_noise_on_its_step_only():
  big = {"w": np.zeros((200, 100), np.float32)}
  tx = gt.perturb_at_step(0.3, step=2, seed=5)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def update(u, state):
    return tx.update(u, state, big)

  state = tx.init(big)
  zeros = jax.tree.map(jnp.zeros_like, big)
  for t in range(4):
    out, state = update(zeros, state)
    w = np.asarray(out["w"])
    if t == 2:
      assert abs(w.std() - 0.3) < 0.01 and abs(w.mean()) < 0.01
    else:
      assert np.all(w == 0)


def test_perturb_takes_per_weight_scales():
  std = {"k": np.zeros((2, 3), np.float32), "b": np.full(2, 1e-3, np.float32)}
  tx = gt.perturb_at_step(std, step=0)
  out, _ = tx.update(jax.tree.map(np.zeros_like, PARAMS), tx.init(PARAMS),
                     PARAMS)
  assert np.all(np.asarray(out["k"]) == 0)
  assert np.all(np.abs(np.asarray(out["b"])) > 0)


def test_projection_keeps_parameters_in_the_ball():
  tx = optax.chain(optax.sgd(1.0), gt.project_to_l2_ball(3.0))
  u = _updates()
  out, _ = tx.update(u, tx.init(PARAMS), PARAMS)
  new = optax.apply_updates(PARAMS, out)
  norm = np.sqrt(sum(np.sum(np.asarray(x) ** 2) for x in
                     jax.tree.leaves(new)))
  assert norm == pytest.approx(3.0, rel=1e-5)
  # numpy: the same direction, rescaled onto the sphere.
  raw = {k: PARAMS[k] - u[k] for k in PARAMS}
  raw_norm = np.sqrt(sum(np.sum(v ** 2) for v in raw.values()))
  for k in PARAMS:
    np.testing.assert_allclose(new[k], raw[k] * 3.0 / raw_norm, rtol=1e-5)
  # Inside the ball nothing changes.
  tx = optax.chain(optax.sgd(1.0), gt.project_to_l2_ball(100.0))
  out, _ = tx.update(u, tx.init(PARAMS), PARAMS)
  for k in PARAMS:
    np.testing.assert_allclose(out[k], -u[k], rtol=1e-6)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 1.0])
def test_saliency_mask_keeps_the_top_fraction_jointly(fraction):
  r = np.random.default_rng(3)
  scores = {"a": r.random((10, 4)).astype(np.float32),
            "b": r.random(20).astype(np.float32)}
  mask = gt.saliency_mask(scores, fraction=fraction)
  flat = np.concatenate([scores["a"].ravel(), scores["b"]])
  k = int(round(fraction * flat.size))
  threshold = np.sort(flat)[::-1][k - 1]
  for name in scores:
    np.testing.assert_array_equal(mask[name],
                                  (scores[name] >= threshold).astype(float))
  assert sum(float(m.sum()) for m in mask.values()) == k


def test_saliency_mask_rejects_bad_fraction():
  with pytest.raises(ValueError, match="fraction"):
    gt.saliency_mask({"a": np.ones(3)}, fraction=0.0)


def test_fisher_noise_stddev_matches_numpy():
  fisher = {"kernel": np.array([[1e-9, 4.0], [1.0, 0.25]], np.float32),
            "bias": np.array([2.0, 1e-12], np.float32),
            "scale": np.float32(0.5)}
  got = gt.fisher_noise_stddev(fisher, alpha=1e-2, max_variance=100.0)
  var_k = 1e-2 * np.minimum(1 / (fisher["kernel"] + 1e-8), 100.0)
  np.testing.assert_allclose(got["kernel"], np.sqrt(np.broadcast_to(
      var_k.mean(0, keepdims=True), (2, 2))), rtol=1e-5)
  np.testing.assert_allclose(got["bias"], np.sqrt(10 * 1e-2 * np.minimum(
      1 / (fisher["bias"] + 1e-8), 100.0)), rtol=1e-5)
  np.testing.assert_allclose(got["scale"], np.sqrt(1e-2 * 2.0), rtol=1e-5)


def test_sophiag_matches_numpy_over_several_steps():
  """optim.optimizer("sophia") against SOUL's update written in numpy:
  m, h moving averages of g and g² (m updated once), θ ← θ (1 − lr wd) on
  matrices, θ ← θ − lr sign(m) min(|m| / (ρ bs h + ε), 1)."""
  r = np.random.default_rng(0)
  params = {"w": r.normal(size=(3, 4)).astype(np.float32),
            "b": r.normal(size=(4,)).astype(np.float32)}
  lr, wd, rho, bs, b1, b2 = 0.1, 0.05, 0.04, 8, 0.9, 0.95
  tx = optim.optimizer("sophia", learning_rate=lr, num_steps=10,
                       warmup_steps=0, weight_decay=wd, grad_clip_norm=0.0,
                       kind="constant",
                       sophia=dict(b1=b1, b2=b2, rho=rho, batch_size=bs)).tx
  state = tx.init(params)
  theta = {k: v.astype(np.float64) for k, v in params.items()}
  m = {k: np.zeros_like(v) for k, v in theta.items()}
  h = {k: np.zeros_like(v) for k, v in theta.items()}
  p = params
  for _ in range(4):
    g = {k: r.normal(size=v.shape).astype(np.float32) * 0.3
         for k, v in params.items()}
    updates, state = tx.update(g, state, p)
    p = optax.apply_updates(p, updates)
    for k in theta:
      m[k] = b1 * m[k] + (1 - b1) * g[k]
      h[k] = b2 * h[k] + (1 - b2) * g[k] ** 2
      if theta[k].ndim >= 2:  # weight decay on matrices only
        theta[k] = theta[k] * (1 - lr * wd)
      theta[k] = theta[k] - lr * np.sign(m[k]) * np.minimum(
          np.abs(m[k]) / (rho * bs * h[k] + 1e-15), 1.0)
  for k in theta:
    np.testing.assert_allclose(p[k], theta[k], rtol=1e-5, atol=1e-6)
  # Small ratios are not clipped: the step is m / (ρ bs h), second order.
  ratio = np.abs(m["w"]) / (rho * bs * h["w"])
  assert (ratio < 1).any() and (ratio >= 1).any()

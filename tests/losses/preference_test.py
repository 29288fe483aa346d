"""NPO and the true-answer NLL against numpy."""

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax import losses


def _nll(z, mask):
  p = np.exp(z - z.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  return -np.log((p * mask).sum(-1))


def test_npo_matches_numpy_with_several_true_answers():
  r = np.random.default_rng(0)
  student = r.normal(size=(6, 5)).astype(np.float32) * 3
  reference = r.normal(size=(6, 5)).astype(np.float32) * 3
  mask = r.random((6, 5)) < 0.3
  mask[np.arange(6), r.integers(0, 5, 6)] = True  # at least one each
  for beta in (0.1, 1.0):
    gap = _nll(student, mask) - _nll(reference, mask)
    want = -(2 / beta) * np.log(1 / (1 + np.exp(-beta * gap)))
    got = losses.npo(jnp.asarray(student), jnp.asarray(reference),
                     jnp.asarray(mask), beta=beta)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(losses.true_answer_nll(student, mask),
                             _nll(student, mask), rtol=1e-5)


def test_npo_is_bounded_where_gradient_ascent_is_not():
  """Once the model's CE is far above the reference's, NPO's loss and
  gradient vanish; gradient ascent's (−CE) keep growing."""
  reference = jnp.array([[3.0, 0.0, 0.0]])
  mask = jnp.array([[True, False, False]])
  loss = lambda z: losses.npo(z, reference, mask, beta=0.1)[0]
  forgotten = jnp.array([[-200.0, 0.0, 0.0]])
  assert float(loss(forgotten)) < 1e-6
  assert float(jnp.abs(jax.grad(loss)(forgotten)).max()) < 1e-6
  ascent = jax.grad(lambda z: -losses.true_answer_nll(z, mask)[0])
  assert float(jnp.abs(ascent(forgotten)).max()) > 0.5
  assert np.isfinite(float(loss(jnp.array([[-1e30, 0.0, 0.0]]))))

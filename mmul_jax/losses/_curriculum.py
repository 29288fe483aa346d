"""SuperLoss (Castells et al., NeurIPS 2020): curriculum by per-example
confidence, as MU-Bench's `use_cl` applies it to unlearning losses.

For per-example losses l_i, threshold tau and regularisation lam, the
optimal confidence is `sigma_i = exp(-W(max(-2/e, (l_i - tau) / lam) / 2))`
(W: the principal branch of the Lambert W function). It is above 1 for
easy examples (l_i < tau) and below 1 for hard ones. It is treated as a
constant (no gradient flows through it).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from mmul_jax.losses import _terms


def lambert_w0(x: jax.Array, iterations: int = 8) -> jax.Array:
  """Principal branch of W (w e^w = x) for x >= -1/e, by Halley steps.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> w = losses.lambert_w0(jnp.array([0.0, jnp.e]))
    >>> [round(float(v), 5) for v in w]
    [0.0, 1.0]
  """
  x = jnp.asarray(x, jnp.float32)
  # Start near the branch point from its series, elsewhere from log1p(x).
  p = jnp.sqrt(jnp.maximum(2.0 * (jnp.e * x + 1.0), 0.0))
  w = jnp.where(x < -0.25, -1.0 + p - p ** 2 / 3.0, jnp.log1p(
      jnp.maximum(x, -0.25)))
  for _ in range(iterations):
    ew = jnp.exp(w)
    f = w * ew - x
    wp1 = w + 1.0
    denom = ew * wp1 - (w + 2.0) * f / (2.0 * wp1 + 1e-12)
    w = w - jnp.where(jnp.abs(denom) > 1e-12, f / denom, 0.0)
  return jnp.where(x <= -1.0 / jnp.e, -1.0, w)


def superloss_confidence(values: jax.Array, tau: jax.Array,
                         lam: float) -> jax.Array:
  """sigma* per example (no gradient).

  Args:
    values: `(B,)` per-example losses.
    tau: the threshold (easy below it).
    lam: the regularisation λ > 0.

  Returns:
    `(B,)` confidences: above 1 for losses below `tau`, below 1 above it.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> s = losses.superloss_confidence(jnp.array([0.0, 1.0, 2.0]), 1.0,
    ...                                 1.0)
    >>> bool(s[0] > 1.0), round(float(s[1]), 5), bool(s[2] < 1.0)
    (True, 1.0, True)
  """
  beta = jnp.maximum(-2.0 / jnp.e, (values - tau) / lam)
  return jax.lax.stop_gradient(jnp.exp(-lambert_w0(0.5 * beta)))


class SuperLossState(NamedTuple):
  tau: jax.Array  # the threshold: running mean of the batch-mean loss
  count: jax.Array  # int32: calls so far (tau starts at the first batch)


def superloss(fn: Callable[..., tuple[jax.Array, dict]], *,
              lam: float = 10.0, momentum: float = 0.9,
              full: bool = False) -> _terms.LossTerm:
  """A `loss_term` whose per-example values are weighted by confidence.

  `fn(params, frozen, batch, *, rng) -> (values (B,), aux)`, as for
  `loss_term`. The loss is `mean(sigma * l)`, MU-Bench's easy-first
  reweighting, or with `full=True` the paper's
  `mean((l - tau) sigma + lam log(sigma)^2)`. tau is the first batch's mean
  loss, then an exponential moving average (`momentum`) of batch means.
  MU-Bench divides a running loss sum by a running sum of confidences
  instead, which the spec calls a probable bug.

  Args:
    fn: as for `loss_term`.
    lam: λ of the confidence.
    momentum: of tau's moving average.
    full: the paper's full objective instead of the weighted mean.

  Returns:
    A `LossTerm` with a `SuperLossState`; aux adds `superloss_tau` and
    `superloss_mean_confidence`.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> t = losses.superloss(lambda p, f, b, *, rng: (b["l"], {}), lam=1.0)
    >>> batch = {"l": jnp.array([0.0, 2.0])}  # tau = their mean, 1
    >>> loss, aux, state = t.apply(t.init({}), {}, None, batch,
    ...                            rng=jax.random.key(0))
    >>> float(aux["superloss_tau"]), bool(loss < 1.0)  # the hard one counts less
    (1.0, True)
  """

  def init(params):
    del params
    return SuperLossState(jnp.zeros((), jnp.float32),
                          jnp.zeros((), jnp.int32))

  def apply(state, params, frozen_params, batch, *, rng):
    values, aux = fn(params, frozen_params, batch, rng=rng)
    values = jnp.asarray(values)
    if values.ndim != 1:
      raise ValueError("superloss needs per-example losses of shape (B,)")
    batch_mean = jax.lax.stop_gradient(jnp.mean(values))
    tau = jnp.where(state.count == 0, batch_mean, state.tau)
    sigma = superloss_confidence(values, tau, lam)
    if full:
      loss = jnp.mean((values - tau) * sigma + lam * jnp.log(sigma) ** 2)
    else:
      loss = jnp.mean(sigma * values)
    new_tau = momentum * tau + (1.0 - momentum) * batch_mean
    aux = {**aux, "superloss_tau": tau,
           "superloss_mean_confidence": jnp.mean(sigma)}
    return loss, aux, SuperLossState(new_tau, state.count + 1)

  return _terms.LossTerm(init, apply)

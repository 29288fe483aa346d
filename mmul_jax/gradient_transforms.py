"""The gradient-side parts of unlearning methods, as optax transformations.

Chain them with any optimiser (`optax.chain`):

  mask_updates(mask)          SalUn: only salient weights move
  perturb_at_step(stddev, *, step, seed)
                              Descent-to-Delete, Fisher forgetting: Gaussian
                              noise added to the update of one step
  project_to_l2_ball(radius)  Descent-to-Delete: projected gradient descent
  scale_by_sophia(...)        SOUL: Sophia's clipped second-order step

and the statistics that parametrise them:

  saliency_mask(scores, *, fraction)   top fraction of entries, jointly
  fisher_noise_stddev(fisher, *, alpha, max_variance)

Masks and noise scales are kept in the transformation's state, so they are
arguments of the jitted step (not constants folded into the program) and
are saved with the optimiser state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class MaskState(NamedTuple):
  mask: Any


def mask_updates(mask) -> optax.GradientTransformation:
  """Multiplies every update elementwise by `mask` (a pytree like params).

  Entries with mask 0 never change through this path; weight decay that is
  chained *after* it still acts on them (the reference SalUn's behaviour).

  Args:
    mask: 0/1 per entry, a pytree shaped like the params.

  Returns:
    An optax `GradientTransformation`.

  Examples:
    >>> import jax.numpy as jnp, optax
    >>> from mmul_jax import gradient_transforms as gt
    >>> tx = optax.chain(gt.mask_updates({"w": jnp.array([1.0, 0.0])}),
    ...                  optax.sgd(1.0))
    >>> params = {"w": jnp.zeros(2)}
    >>> updates, _ = tx.update({"w": jnp.ones(2)}, tx.init(params), params)
    >>> (updates["w"] != 0).tolist()  # the masked entry stays put
    [True, False]
  """

  def init(params):
    del params
    return MaskState(jax.tree.map(lambda m: jnp.asarray(m, jnp.float32),
                                  mask))

  def update(updates, state, params=None):
    del params
    return jax.tree.map(lambda u, m: (u * m).astype(u.dtype), updates,
                        state.mask), state

  return optax.GradientTransformation(init, update)


class PerturbState(NamedTuple):
  count: jax.Array
  stddev: Any
  seed: jax.Array  # an int, not a key: plain arrays checkpoint anywhere


def perturb_at_step(stddev, *, step: int,
                    seed: int = 0) -> optax.GradientTransformation:
  """Adds `stddev · N(0, 1)` to the updates of update number `step` only.

  Placed last in a chain, it perturbs the published parameters once, after
  the gradient steps: θ_T ← θ_T + σ ξ.

  Args:
    stddev: a number or a pytree like the params (per-weight scales).
    step: the 0-based update that gets the noise.
    seed: of the noise (an int, so the state checkpoints anywhere).

  Returns:
    An optax `GradientTransformation`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import gradient_transforms as gt
    >>> tx = gt.perturb_at_step(0.1, step=1)
    >>> zeros = {"w": jnp.zeros(3)}
    >>> state = tx.init(zeros)
    >>> first, state = tx.update(zeros, state)
    >>> second, state = tx.update(zeros, state)
    >>> bool(jnp.all(first["w"] == 0)), bool(jnp.any(second["w"] != 0))
    (True, True)
  """

  scalar = isinstance(stddev, (int, float)) or getattr(stddev, "ndim", 1) == 0

  def init(params):
    if scalar:
      std = jax.tree.map(lambda p: jnp.full(p.shape, stddev, jnp.float32),
                         params)
    else:
      std = jax.tree.map(lambda s: jnp.asarray(s, jnp.float32), stddev)
    return PerturbState(jnp.zeros((), jnp.int32), std,
                        jnp.asarray(seed, jnp.uint32))

  def update(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    keys = jax.random.split(jax.random.key(state.seed), len(leaves))
    noise = [jax.random.normal(k, u.shape, jnp.float32) for k, u in
             zip(keys, leaves)]
    now = (state.count == step).astype(jnp.float32)
    noisy = [(u + now * s * n).astype(u.dtype) for u, s, n in
             zip(leaves, jax.tree.leaves(state.stddev), noise)]
    return (jax.tree.unflatten(treedef, noisy),
            state._replace(count=state.count + 1))

  return optax.GradientTransformation(init, update)


def project_to_l2_ball(radius: float) -> optax.GradientTransformation:
  """Makes θ + update land in {θ : ‖θ‖₂ ≤ radius} (global norm).

  Chain it after the optimiser; needs `params` in `update`.

  Args:
    radius: of the ball around 0.

  Returns:
    An optax `GradientTransformation`.

  Examples:
    >>> import jax.numpy as jnp, optax
    >>> from mmul_jax import gradient_transforms as gt
    >>> tx = gt.project_to_l2_ball(1.0)
    >>> params = {"w": jnp.zeros(2)}
    >>> updates, _ = tx.update({"w": jnp.array([3.0, 4.0])}, tx.init(params),
    ...                        params)
    >>> [round(float(v), 4) for v in optax.apply_updates(params, updates)["w"]]
    [0.6, 0.8]
  """

  def update(updates, state, params=None):
    if params is None:
      raise ValueError("project_to_l2_ball needs params in update()")
    new = optax.apply_updates(params, updates)
    projected = optax.projections.projection_l2_ball(new, radius)
    return jax.tree.map(lambda a, b: (a - b).astype(b.dtype), projected,
                        params), state

  return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


class SophiaState(NamedTuple):
  mu: Any  # m, the gradients' moving average
  hessian: Any  # h, the diagonal curvature estimate's


def scale_by_sophia(*, b1: float = 0.9, b2: float = 0.95, rho: float = 0.04,
                    batch_size: int = 5120,
                    eps: float = 1e-15) -> optax.GradientTransformation:
  """Sophia's update direction (Liu et al., "Sophia: a Scalable Stochastic
  Second-order Optimizer", 2023), as SOUL (Jia et al., 2024) and MU-Bench
  use it for unlearning.

  Each step: m ← β₁ m + (1 − β₁) g; h ← β₂ h + (1 − β₂) g² (the
  Gauss-Newton-like diagonal MU-Bench updates every step); the update is
  sign(m) · min(|m| / (ρ · batch_size · h + ε), 1), a Newton step clipped
  elementwise to at most 1. Chain it with `optax.add_decayed_weights` and
  `optax.scale_by_learning_rate` for SophiaG (`optim.optimizer("sophia")`).
  m is updated once per step (MU-Bench's SophiaG updated it twice).

  Args:
    b1: the gradient moving average's decay, in [0, 1).
    b2: the Hessian estimate's moving average's decay, in [0, 1).
    rho: ρ > 0, the clipping scale.
    batch_size: the batch size h is scaled by (MU-Bench: 5120).
    eps: keeps the ratio finite where h = 0.

  Returns:
    An optax `GradientTransformation`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import gradient_transforms as gt
    >>> tx = gt.scale_by_sophia(rho=1.0, batch_size=1)
    >>> g = {"w": jnp.array([1e-4, -2.0])}
    >>> u, _ = tx.update(g, tx.init(g))
    >>> u["w"].tolist()  # m = 0.1 g, h = 0.05 g²: clipped to ±1
    [1.0, -1.0]
  """

  def init(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return SophiaState(jax.tree.map(zeros, params),
                       jax.tree.map(zeros, params))

  def update(updates, state, params=None):
    del params
    g = jax.tree.map(lambda u: u.astype(jnp.float32), updates)
    mu = jax.tree.map(lambda m, x: b1 * m + (1 - b1) * x, state.mu, g)
    h = jax.tree.map(lambda v, x: b2 * v + (1 - b2) * x * x, state.hessian,
                     g)
    step = jax.tree.map(
        lambda m, v, u: (jnp.sign(m) * jnp.minimum(
            jnp.abs(m) / (rho * batch_size * v + eps), 1.0)).astype(u.dtype),
        mu, h, updates)
    return step, SophiaState(mu, h)

  return optax.GradientTransformation(init, update)


def saliency_mask(scores, *, fraction: float):
  """1 for the `fraction` of entries with the largest score, 0 elsewhere.

  Entries of all leaves are ranked jointly (SalUn ranks |∇θ L_f| across the
  whole network). Ties at the threshold are all kept.

  Args:
    scores: a pytree of arrays (e.g. |gradients|).
    fraction: in (0, 1]: the share of entries kept.

  Returns:
    A float32 0/1 pytree shaped like `scores`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import gradient_transforms as gt
    >>> m = gt.saliency_mask({"a": jnp.array([4.0, 1.0]),
    ...                       "b": jnp.array([3.0, 2.0])}, fraction=0.5)
    >>> m["a"].tolist(), m["b"].tolist()
    ([1.0, 0.0], [1.0, 0.0])
  """
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f"fraction must be in (0, 1], got {fraction}")
  flat = jnp.concatenate([jnp.ravel(s) for s in jax.tree.leaves(scores)])
  k = max(1, int(round(fraction * flat.size)))
  threshold = jax.lax.top_k(flat, k)[0][-1]
  return jax.tree.map(lambda s: (s >= threshold).astype(jnp.float32),
                      scores)


def fisher_noise_stddev(fisher, *, alpha: float, max_variance: float = 1e3):
  """Per-weight noise scale of Fisher forgetting (Golatkar et al.).

  var = α · min(1 / (F + 1e-8), max_variance); for matrices and tensors the
  variance is averaged over the input axis (axis 0 of a Flax kernel) so
  each output unit gets one scale; 1-D parameters (biases, norms) get 10×.

  Args:
    fisher: the diagonal Fisher F, a pytree like the params.
    alpha: α, the noise scale.
    max_variance: the cap of 1 / F.

  Returns:
    √var, a pytree like `fisher`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import gradient_transforms as gt
    >>> std = gt.fisher_noise_stddev({"b": jnp.array([1.0])}, alpha=0.1)
    >>> round(float(std["b"][0]), 4)  # sqrt(10 * 0.1 / (1 + 1e-8))
    1.0
  """

  def one(f):
    var = alpha * jnp.minimum(1.0 / (f.astype(jnp.float32) + 1e-8),
                              max_variance)
    if var.ndim > 1:
      var = jnp.broadcast_to(var.mean(axis=0, keepdims=True), var.shape)
    elif var.ndim == 1:
      var = 10.0 * var
    return jnp.sqrt(var)

  return jax.tree.map(one, fisher)

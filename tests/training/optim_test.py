"""An injected learning rate equals the plain optimiser, and optimisers
that differ only in it share their functions under vmap (tuning trials)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import optim


def _params():
  k1, k2 = jax.random.split(jax.random.key(0))
  return {"w": jax.random.normal(k1, (4, 3)), "b": jax.random.normal(k2, (3,))}


def _grads(t):
  return jax.tree.map(lambda p: jnp.sin(p * (t + 1)), _params())


def _run(tx, steps=5):
  params = _params()
  state = tx.init(params)
  for t in range(steps):
    updates, state = tx.update(_grads(t), state, params)
    params = jax.tree.map(lambda p, u: p + u, params, updates)
  return params


KW = dict(num_steps=5, warmup_steps=2, weight_decay=0.05, grad_clip_norm=1.0,
          kind="cosine", end_ratio=0.1)


@pytest.mark.parametrize("name", ["adamw", "sgd", "sophia"])
def test_injected_learning_rate_equals_the_plain_optimizer(name):
  plain = optim.optimizer(name, learning_rate=3e-3, **KW)
  injected = optim.optimizer(name, learning_rate=3e-3,
                             inject_learning_rate=True, **KW)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6,
                                                       atol=1e-7),
               _run(plain.tx), _run(injected.tx))
  # Both report the rate they apply: the configured peak after warmup.
  for opt in (plain, injected):
    assert float(opt.learning_rate(0)) == 0.0
    np.testing.assert_allclose(float(opt.learning_rate(2)), 3e-3, rtol=1e-6)
    np.testing.assert_allclose(float(opt.learning_rate(5)), 3e-4, rtol=1e-5)


def test_learning_rates_stack_under_vmap_with_one_function():
  lrs = (1e-3, 1e-2)
  txs = [optim.optimizer("adamw", learning_rate=lr,
                         inject_learning_rate=True, **KW).tx for lr in lrs]
  params = _params()
  states = [tx.init(params) for tx in txs]
  stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
  # One transformation (the first trial's) updates both trials.
  step = jax.vmap(lambda s, g: txs[0].update(g, s, params),
                  in_axes=(0, None))
  updates, _ = step(stacked, _grads(0))
  for k, tx in enumerate(txs):
    alone, _ = tx.update(_grads(0), tx.init(params), params)
    jax.tree.map(lambda a, b, k=k: np.testing.assert_allclose(
        a[k], b, rtol=1e-6), updates, alone)


@pytest.mark.parametrize("name", ["adamw", "sgd", "sophia"])
def test_batch_norm_statistics_never_move(name):
  """A ResNet's `batch_stats` beside `params`: zero updates under weight
  decay, a method's noise and a nonzero gradient alike, while the
  parameters move exactly as without them (same optimiser state)."""
  from mmul_jax import gradient_transforms  # pylint: disable=g-import-not-at-top
  after = (gradient_transforms.perturb_at_step(0.1, step=0, seed=0),)
  tx = optim.optimizer(name, learning_rate=3e-3, after=after, **KW).tx
  stats = {"mean": jnp.arange(3.0), "var": jnp.ones(3)}
  variables = {"params": _params(), "batch_stats": stats}
  state, plain_state = tx.init(variables), tx.init({"params": _params()})
  assert (jax.tree.structure(state) == jax.tree.structure(plain_state))
  for t in range(3):
    grads = {"params": _grads(t), "batch_stats": jax.tree.map(
        jnp.ones_like, stats)}
    updates, state = tx.update(grads, state, variables)
    variables = jax.tree.map(lambda p, u: p + u, variables, updates)
  jax.tree.map(np.testing.assert_array_equal, variables["batch_stats"],
               stats)
  assert not np.allclose(variables["params"]["w"], _params()["w"])
  assert optim.trainable(variables) == {"params": variables["params"]}
  plain = _params()
  assert optim.trainable(plain) is plain

"""K models under vmap equal the same models trained alone, and the step
compiles once."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mmul_jax import experiment
from mmul_jax import losses
from mmul_jax.training import loop
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib
from mmul_jax.training import vmapped
from mmul_jax.unlearn import phases
import tree_checks  # tests/tree_checks.py


def _term():
  def fn(params, frozen, batch, *, rng):
    del frozen
    noise = 0.01 * jax.random.normal(rng, batch["x"].shape)
    pred = jnp.tanh((batch["x"] + noise) @ params["w"]) @ params["v"]
    return jnp.mean((pred - batch["y"]) ** 2), {}
  return losses.loss_term(fn)


def _params(seed):
  k1, k2 = jax.random.split(jax.random.key(seed))
  return {"w": jax.random.normal(k1, (4, 8)),
          "v": jax.random.normal(k2, (8, 1))}


def _batch(seed, step):
  rng = np.random.default_rng(1000 * seed + step)
  return {"x": rng.normal(size=(16, 4)).astype(np.float32),
          "y": rng.normal(size=(16, 1)).astype(np.float32)}


def test_vmapped_step_equals_single_models_and_compiles_once():
  seeds, steps = (3, 4, 5), 5
  mesh = sharding.make_mesh()
  tx = optax.adamw(1e-2)
  term = _term()
  alone = []
  for s in seeds:
    step = loop.make_step(term, tx, jax.random.key(s), mesh)
    state = state_lib.create(_params(s), tx)
    for t in range(steps):
      state, _ = step(state, _batch(s, t))
    alone.append(state.params)
  step = vmapped.make_step(term, tx, jnp.stack(
      [jax.random.key(s) for s in seeds]), mesh)
  states = vmapped.stack([state_lib.create(_params(s), tx) for s in seeds])
  # Placed as a run places them (the step's outputs come back so laid out).
  states = jax.device_put(states, vmapped.model_sharding(states, mesh))
  for t in range(steps):
    states, metrics = step(states, vmapped.stack(
        [_batch(s, t) for s in seeds]))
  assert step._cache_size() == 1
  assert metrics["loss"].shape == (3,)
  for k in range(len(seeds)):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(
        a, b, rtol=1e-5, atol=1e-6),
        vmapped.unstack(states.params, k), alone[k])


def test_stack_rejects_different_structures():
  with pytest.raises(ValueError, match="structure"):
    vmapped.stack([{"a": np.zeros(2)}, {"b": np.zeros(2)}])


_close = tree_checks.assert_close


def _setup(tiny_config, data_dir, path, method, seed=0):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.seed = seed
  c.train.num_steps = 4
  c.unlearn.num_steps = 2
  c.method.name = method
  return experiment.setup(c, str(path))


@pytest.mark.parametrize("method", [
    pytest.param("salun", marks=pytest.mark.slow),
    pytest.param("fisher", marks=pytest.mark.slow),
    pytest.param("bad_teaching", marks=pytest.mark.slow)])
def test_shadow_models_equal_models_trained_alone(tmp_path, tiny_config,
                                                  data_dir, method):
  """Training, retraining and unlearning K = 2 models under vmap gives
  each seed's single-run models: masks, noise and teachers are per
  model."""
  seeds = (0, 1)
  exp = _setup(tiny_config, data_dir, tmp_path / "k", method)
  originals, info = phases.train_model(exp, "original", seeds)
  assert len(info["history"][-1]["loss"]) == 2
  retrained, _ = phases.train_model(exp, "retrain", seeds)
  unlearned, uinfo = phases.unlearn_model(exp, originals, seeds)
  assert uinfo["seeds"] == [0, 1]
  # Seed 1 alone (seed 0 alone is the config's run, the same code path):
  # its original, and the unlearned model built on it, match model 1.
  one = _setup(tiny_config, data_dir, tmp_path / "one", method, seeds[1])
  original, _ = phases.train_model(one, "original")
  _close(vmapped.unstack(originals, 1), original)
  alone, _ = phases.unlearn_model(one, original)
  _close(vmapped.unstack(unlearned, 1), alone)
  assert vmapped.unstack(retrained, 0)["params"].keys() == original[
      "params"].keys()
  # The finished phases are reloaded, not run again.
  again, _ = phases.train_model(exp, "original", seeds)
  _close(again, originals)

"""The relearning attack's parts: which units each attack seed draws, and
its K vmapped copies equal the same fine-tuning run alone, one per seed,
kept at each step count."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mmul_jax import losses
from mmul_jax.robustness import relearn
from mmul_jax.training import loop
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib
from mmul_jax.training import vmapped

FORGET = np.arange(10)
RETAIN = np.arange(10, 40)
LABELS = {i: i % 3 for i in range(40)}


def test_attack_units_come_from_the_named_pool():
  for seed in range(5):
    f = relearn.attack_units("forget", FORGET, RETAIN, 4, seed)
    r = relearn.attack_units("retain", FORGET, RETAIN, 4, seed)
    assert len(set(f)) == 4 and set(f) <= set(FORGET)
    assert len(set(r)) == 4 and set(r) <= set(RETAIN)
  # Seeded: the same seed draws the same units, another seed others.
  np.testing.assert_array_equal(
      relearn.attack_units("forget", FORGET, RETAIN, 4, 1),
      relearn.attack_units("forget", FORGET, RETAIN, 4, 1))
  draws = {tuple(relearn.attack_units("forget", FORGET, RETAIN, 4, s))
           for s in range(5)}
  assert len(draws) > 1


def test_same_class_units_are_retained_units_of_a_forgotten_class():
  forget = np.asarray([0, 3, 6, 9])  # all of class 0
  for seed in range(3):
    u = relearn.attack_units("same_class", forget, RETAIN, 5, seed, LABELS)
    assert set(u) <= set(RETAIN) and {LABELS[int(i)] for i in u} == {0}
  with pytest.raises(ValueError, match="class"):
    relearn.attack_units("same_class", forget, RETAIN, 5, 0)
  with pytest.raises(ValueError, match="10 units to draw 11"):
    relearn.attack_units("same_class", forget, RETAIN, 11, 0, LABELS)
  with pytest.raises(ValueError, match="unknown"):
    relearn.attack_units("paraphrase", forget, RETAIN, 2, 0)


def _term():
  def fn(params, frozen, batch, *, rng):
    del frozen
    noise = 0.01 * jax.random.normal(rng, batch["x"].shape)
    return jnp.mean(((batch["x"] + noise) @ params["w"] - batch["y"]) ** 2), {}
  return losses.loss_term(fn)


def _batch(seed, step):
  rng = np.random.default_rng(100 * seed + step)
  return {"x": rng.normal(size=(8, 3)).astype(np.float32),
          "y": rng.normal(size=(8, 2)).astype(np.float32)}


def test_fine_tune_equals_each_seed_alone_at_each_checkpoint():
  mesh = sharding.make_mesh()
  params = {"w": np.asarray(
      np.random.default_rng(0).normal(size=(3, 2)), np.float32)}
  tx, seeds = optax.adam(0.05), (4, 7)
  rngs = jnp.stack([jax.random.key(s) for s in seeds])
  batches = [vmapped.stack([_batch(s, t) for s in seeds]) for t in range(5)]
  got = relearn.fine_tune(params, term=_term(), tx=tx, rngs=rngs, mesh=mesh,
                          batches=batches, checkpoints=(5, 2))
  assert sorted(got) == [2, 5]
  for k, s in enumerate(seeds):
    step = loop.make_step(_term(), tx, jax.random.key(s), mesh)
    state = state_lib.create(params, tx)
    for t in range(5):
      state, _ = step(state, _batch(s, t))
      if t + 1 in got:
        np.testing.assert_allclose(got[t + 1]["w"][k], state.params["w"],
                                   rtol=1e-5, atol=1e-6)
  # The attack moved the model, each seed its own way.
  assert not np.allclose(got[5]["w"][0], params["w"])
  assert not np.allclose(got[5]["w"][0], got[5]["w"][1])

"""Steps compile once; resume equals an uninterrupted run; NaN stops cleanly."""

import os
import re
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mmul_jax import checkpoint
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax import losses
from mmul_jax.training import loop
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib
from mmul_jax.unlearn import phases


@pytest.fixture(scope="module")
def exp_factory(tiny_builder, data_dir, tiny_config):
  def make(workdir):
    c = tiny_config.copy_and_resolve_references()
    c.data.data_dir = data_dir
    return experiment.setup(c, str(workdir))
  return make


def test_train_resume_matches_uninterrupted(exp_factory, tmp_path):
  exp = exp_factory(tmp_path / "a")
  full, info = phases.train_model(exp, "original")
  assert info["steps"] == exp.config.train.num_steps
  directory = phases.model_dir(exp, "original")
  # Simulate a run killed after its step-3 checkpoint.
  shutil.copytree(directory, tmp_path / "b" / "original")
  for name in os.listdir(tmp_path / "b" / "original"):
    if name in (str(exp.config.train.num_steps), phases.TRAIN_INFO_FILE):
      shutil.rmtree(tmp_path / "b" / "original" / name, ignore_errors=True)
      if os.path.exists(tmp_path / "b" / "original" / name):
        os.remove(tmp_path / "b" / "original" / name)
  exp_b = exp_factory(tmp_path / "b")
  resumed, info_b = phases.train_model(exp_b, "original")
  assert info_b["resumed_from"] == exp.config.train.checkpoint_every
  jax.tree.map(np.testing.assert_array_equal, resumed, full)
  # A finished run only loads.
  again, info_c = phases.train_model(exp_b, "original")
  assert info_c == info_b
  jax.tree.map(np.testing.assert_array_equal, again, full)


@pytest.mark.slow
def test_other_model_config_in_workdir_is_refused(exp_factory, tmp_path):
  exp = exp_factory(tmp_path)
  phases.train_model(exp, "original")
  exp.config.model.vision_width = 48
  with pytest.raises(errors.CheckpointError,
                     match=r"another config.*vision_width \(32 -> 48\)"):
    phases.train_model(exp, "original")


def _replicated_state(mesh, params, tx):
  return jax.device_put(state_lib.create(params, tx),
                        sharding.replicated(mesh))


def _toy(mesh, learning_rate=0.1):
  """Linear regression with SGD; it diverges at a large learning rate."""
  def loss_fn(params, frozen, batch, *, rng):
    del frozen, rng
    err = batch["x"] @ params["w"] - batch["y"]
    return jnp.mean(err ** 2), {}
  tx = optax.sgd(learning_rate)
  return loss_fn, tx, _replicated_state(mesh, {"w": jnp.zeros((3, 1))}, tx)


def _batches():
  rng = np.random.default_rng(0)
  while True:
    x = rng.normal(size=(4, 3)).astype(np.float32)
    yield {"x": x, "y": x @ np.ones((3, 1), np.float32)}


def test_step_compiles_once():
  mesh = sharding.make_mesh()
  loss_fn, tx, st = _toy(mesh)
  counted = chex.assert_max_traces(loss_fn, n=1)
  step = loop.make_step(losses.loss_term(counted), tx, jax.random.key(0), mesh)
  st, hist, _ = loop.run_steps(step, st, _batches(), mesh=mesh, num_steps=5,
                               log_every=1)
  assert int(st.step) == 5 and len(hist) == 5
  assert hist[-1]["loss"] < hist[0]["loss"]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  mesh = sharding.make_mesh()
  loss_fn, tx, st = _toy(mesh, learning_rate=1e6)  # diverges
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"toy": 1})
  step = loop.make_step(losses.loss_term(loss_fn), tx, jax.random.key(0), mesh)
  with pytest.raises(errors.NonFiniteLossError,
                     match=r"non-finite at step .*the last complete "
                     r"checkpoint \(step (\d+)\) is kept") as e:
    loop.run_steps(step, st, _batches(), mesh=mesh, num_steps=200,
                   checkpointer=ckpt, checkpoint_every=1, log_every=50)
  # The step named is complete on disk (the save in flight was waited
  # for), and nothing half-written is left.
  kept = int(re.search(r"\(step (\d+)\)", str(e.value)).group(1))
  assert ckpt.finished_steps()[-1] == kept
  assert not [n for n in os.listdir(tmp_path) if "tmp" in n]
  good = ckpt.restore(checkpoint.abstract_like(
      st, sharding.replicated(mesh)))
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(good.params))


def test_overflowing_update_is_never_saved(tmp_path):
  # Finite loss and gradient, but the update overflows float32 to -inf.
  mesh = sharding.make_mesh()

  def loss_fn(params, frozen, batch, *, rng):
    del frozen, batch, rng
    return jnp.sum(params["w"]) * 1e30, {}

  tx = optax.sgd(1e10)
  st = _replicated_state(mesh, {"w": jnp.zeros(3)}, tx)
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"toy": 2})
  step = loop.make_step(losses.loss_term(loss_fn), tx, jax.random.key(0), mesh)
  with pytest.raises(errors.NonFiniteLossError,
                     match="at step 1 .*no checkpoint was written"):
    loop.run_steps(step, st, _batches(), mesh=mesh, num_steps=3,
                   checkpointer=ckpt, checkpoint_every=1, log_every=10)
  ckpt.wait()
  assert ckpt.latest_step() is None

"""Orbax round trip, resume guard and corrupt checkpoints."""

import json
import os

import grain
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mmul_jax import checkpoint
from mmul_jax import errors
from mmul_jax.data.core import pipeline
from mmul_jax.training import loop
from mmul_jax.training import state as state_lib


def _state(seed=0):
  k = jax.random.key(seed)
  params = {"w": jax.random.normal(k, (4, 3)), "b": jnp.zeros(3)}
  tx = optax.adamw(1e-2)
  state = state_lib.create(params, tx)
  grads = jax.tree.map(jnp.ones_like, params)
  updates, opt = tx.update(grads, state.opt_state, params)
  return state.replace(step=state.step + 1,
                       params=optax.apply_updates(params, updates),
                       opt_state=opt), tx


def _abstract(state):
  return checkpoint.abstract_like(
      state, jax.sharding.SingleDeviceSharding(jax.devices()[0]))


def test_round_trip_restores_params_and_optimizer_state(tmp_path):
  state, _ = _state()
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"model": {"w": 4}})
  ckpt.save(1, state)
  ckpt.close()
  again = checkpoint.Checkpointer(str(tmp_path), {"model": {"w": 4}})
  assert again.latest_step() == 1
  restored = again.restore(_abstract(state))
  again.close()
  jax.tree.map(np.testing.assert_array_equal, restored, state)
  assert type(restored.opt_state) is type(state.opt_state)


def test_other_config_is_refused(tmp_path):
  state, _ = _state()
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"model": {"width": 4}})
  ckpt.save(1, state)
  ckpt.close()
  with pytest.raises(errors.CheckpointError,
                     match=r"another config.*model.width \(4 -> 8\)"):
    checkpoint.Checkpointer(str(tmp_path), {"model": {"width": 8}})


def test_refusal_starts_no_orbax_manager(tmp_path, monkeypatch):
  # A script exits on this refusal; the manager's tmp-cleanup thread, if
  # started, could still run at interpreter shutdown and print a traceback
  # (seen once in CI).
  state, _ = _state()
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"model": {"width": 4}})
  ckpt.save(1, state)
  ckpt.close()
  made = []
  real = checkpoint.ocp.CheckpointManager
  monkeypatch.setattr(checkpoint.ocp, "CheckpointManager",
                      lambda *a, **k: made.append(1) or real(*a, **k))
  with pytest.raises(errors.CheckpointError, match="another config"):
    checkpoint.Checkpointer(str(tmp_path), {"model": {"width": 8}})
  assert not made


def test_a_step_cut_short_is_removed_at_start_without_a_thread(tmp_path,
                                                               monkeypatch):
  # Orbax's own cleanup runs in a thread its close() does not join (a
  # traceback at exit when a script stops early): the Checkpointer removes
  # such steps itself, before it returns, and turns Orbax's off.
  state, _ = _state()
  ckpt = checkpoint.Checkpointer(str(tmp_path), {})
  ckpt.save(1, state)
  ckpt.close()
  cut = tmp_path / "2.orbax-checkpoint-tmp-1234"
  (cut / "state").mkdir(parents=True)
  options = []
  real = checkpoint.ocp.CheckpointManager
  monkeypatch.setattr(
      checkpoint.ocp, "CheckpointManager",
      lambda *a, **k: options.append(k["options"]) or real(*a, **k))
  again = checkpoint.Checkpointer(str(tmp_path), {})
  assert not cut.exists()
  assert [o.cleanup_tmp_directories for o in options] == [False]
  assert again.finished_steps() == [1]
  again.close()


def test_corrupt_checkpoint_gives_a_clear_error(tmp_path):
  state, _ = _state()
  ckpt = checkpoint.Checkpointer(str(tmp_path), {})
  ckpt.save(1, state)
  ckpt.close()
  step_dir = os.path.join(str(tmp_path), "1", "state")
  for root, _, files in os.walk(step_dir):
    for f in files:
      with open(os.path.join(root, f), "wb") as fh:
        fh.write(b"garbage")
  again = checkpoint.Checkpointer(str(tmp_path), {})
  with pytest.raises(errors.CheckpointError, match="cannot be read"):
    again.restore(_abstract(state))


def test_corrupt_fingerprint_gives_a_clear_error(tmp_path):
  state, _ = _state()
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"a": 1})
  ckpt.save(1, state)
  ckpt.close()
  with open(os.path.join(str(tmp_path), checkpoint.FINGERPRINT_FILE),
            "w") as f:
    f.write("{not json")
  with pytest.raises(errors.CheckpointError, match="corrupt"):
    checkpoint.Checkpointer(str(tmp_path), {"a": 1})


def _resume_setup(tmp_path, saved_position, with_data=True):
  """A checkpoint at step 3 whose iterator was at `saved_position`."""
  state, _ = _state()
  state = state.replace(step=state.step + 2)  # step 3
  stream = grain.MapDataset.range(100)
  it = pipeline.iterate(stream, saved_position)
  ckpt = checkpoint.Checkpointer(str(tmp_path), {},
                                 data=("train",) if with_data else ())
  ckpt.save(3, state, data={"train": it} if with_data else None)
  ckpt.close()
  return state, stream


def test_resume_restores_the_saved_input_position(tmp_path):
  state, stream = _resume_setup(tmp_path, 3)
  ckpt = checkpoint.Checkpointer(str(tmp_path), {}, data=("train",))
  restored, its, latest = loop.resume(ckpt, lambda: _abstract(state),
                                      {"train": stream})
  assert latest == 3 and int(restored.step) == 3
  assert ckpt.restore_data(3, {"train": pipeline.iterate(stream, 0)})
  assert next(its["train"]) == 3
  ckpt.close()


def test_resume_without_saved_positions_starts_at_the_step(tmp_path):
  # As after a change of process count: positions are per process.
  state, stream = _resume_setup(tmp_path, 3, with_data=False)
  ckpt = checkpoint.Checkpointer(str(tmp_path), {}, data=("train",))
  assert not ckpt.restore_data(3, {"train": pipeline.iterate(stream, 0)})
  _, its, _ = loop.resume(ckpt, lambda: _abstract(state), {"train": stream})
  assert next(its["train"]) == 3
  ckpt.close()


def test_input_position_that_disagrees_with_the_state_is_refused(tmp_path):
  state, stream = _resume_setup(tmp_path, 7)
  ckpt = checkpoint.Checkpointer(str(tmp_path), {}, data=("train",))
  with pytest.raises(errors.CheckpointError,
                     match=r"stream 'train' at batch 7, not 3"):
    loop.resume(ckpt, lambda: _abstract(state), {"train": stream})
  ckpt.close()


def test_a_directory_without_a_finished_step_takes_a_changed_config(
    tmp_path):
  # A run that stopped before its first checkpoint (a NaN at step 3, a
  # config error found late) must not refuse the corrected rerun.
  checkpoint.Checkpointer(str(tmp_path), {"lr": 1.0}).close()
  assert not os.path.exists(tmp_path / checkpoint.FINGERPRINT_FILE)
  (tmp_path / checkpoint.FINGERPRINT_FILE).write_text('{"lr": 1.0}')
  state, _ = _state()
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"lr": 0.1})
  ckpt.save(1, state)
  ckpt.close()
  with open(tmp_path / checkpoint.FINGERPRINT_FILE) as f:
    assert json.load(f) == {"lr": 0.1}
  checkpoint.Checkpointer(str(tmp_path), {"lr": 0.1}).close()

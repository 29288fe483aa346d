"""The loop stopped by Ctrl-C, a full disk or a failing save: the save in
flight finishes or is cleaned up, no temporary step is left, and the one
error names the step that really is on disk."""

import errno
import os
import subprocess

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from mmul_jax import checkpoint
from mmul_jax import errors
from mmul_jax.training import loop
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib


def _state(size=16):
  params = {"w": jax.random.normal(jax.random.key(0), (size,))}
  return state_lib.create(params, optax.sgd(0.1))


def _step(interrupt_at=None):
  """A host-side step: counts, and raises KeyboardInterrupt when asked."""
  def step(state, batch):
    del batch
    if interrupt_at is not None and int(state.step) == interrupt_at:
      raise KeyboardInterrupt
    return state.replace(step=state.step + 1), {
        "loss": np.float32(1.0), "grad_norm": np.float32(1.0),
        "params_finite": np.bool_(True)}
  return step


def _batches():
  while True:
    yield {"x": np.zeros((1, 1), np.float32)}


def _leftovers(directory):
  return [n for n in os.listdir(directory) if "tmp" in n]


def _run(ckpt, state, num_steps=10, **kw):
  return loop.run_steps(kw.pop("step", _step()), state, _batches(),
                        mesh=sharding.make_mesh(), num_steps=num_steps,
                        checkpointer=ckpt, checkpoint_every=1, log_every=1,
                        **kw)


def test_ctrl_c_waits_for_the_save_and_says_where_to_resume(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"a": 1})
  with pytest.raises(errors.Interrupted,
                     match=r"^interrupted at step 4; rerun the same command "
                     r"to resume from step 4$") as e:
    _run(ckpt, _state(), step=_step(interrupt_at=4))
  assert e.value.exit_code == 130
  assert ckpt.finished_steps()[-1] == 4 and not _leftovers(tmp_path)


def test_ctrl_c_before_any_checkpoint(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path), {"a": 1})
  with pytest.raises(errors.Interrupted, match="resume from the start"):
    _run(ckpt, _state(), step=_step(interrupt_at=0))


@pytest.fixture
def small_disk(tmp_path):
  """A 600 kB tmpfs where the test may mount one (root), else None."""
  mount = tmp_path / "disk"
  mount.mkdir()
  if os.geteuid() != 0 or subprocess.run(
      ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
      capture_output=True).returncode != 0:
    yield None
    return
  try:
    yield str(mount)
  finally:
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_disk_leaves_the_last_complete_step_and_one_error(
    small_disk, tmp_path, monkeypatch):
  if small_disk is None:  # a fake: the save's directory appears, then fails
    directory = str(tmp_path / "ckpt")
    real_save = ocp.CheckpointManager.save

    def failing_save(self, step, *a, **kw):
      if step >= 2:
        os.makedirs(os.path.join(directory, f"{step}.orbax-checkpoint-tmp"))
        raise OSError(errno.ENOSPC, "No space left on device")
      return real_save(self, step, *a, **kw)

    monkeypatch.setattr(ocp.CheckpointManager, "save", failing_save)
    state = _state()
  else:  # real: two 400 kB steps do not fit in 600 kB
    directory = os.path.join(small_disk, "ckpt")
    state = _state(100_000)
  ckpt = checkpoint.Checkpointer(directory, {"a": 1})
  with pytest.raises(checkpoint.CheckpointSaveError,
                     match=r"No space left on device.*the last complete "
                     r"checkpoint, step 1, is kept.*rerun the same command"):
    _run(ckpt, state)
  assert ckpt.finished_steps() == [1] and not _leftovers(directory)
  # The kept step restores.
  again = checkpoint.Checkpointer(directory, {"a": 1})
  restored = again.restore(checkpoint.abstract_like(
      state, sharding.replicated(sharding.make_mesh())))
  assert int(restored.step) == 1

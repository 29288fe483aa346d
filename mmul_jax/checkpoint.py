"""Orbax checkpointing of training/unlearning state, with a config guard.

Each run directory holds an Orbax `CheckpointManager` (one sub-directory per
saved step, written to a temporary name and renamed when complete, so a
killed run never leaves a half-written step behind) and `fingerprint.json`,
the part of the config that determines the saved parameters. Opening a
directory whose fingerprint differs from the current config fails with a
message naming the differing keys, instead of silently resuming a different
model.

A step holds the item `state` (the train state) and one item per input
stream, `data_<name>`: the grain iterator's position, one file per process.
Restoring sets the iterators there, so input resumes where the state does.
"""

from __future__ import annotations

import json
import os
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils

FINGERPRINT_FILE = "fingerprint.json"


CheckpointError = errors.CheckpointError


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
  if isinstance(old, dict) and isinstance(new, dict):
    out = []
    for k in sorted(set(old) | set(new)):
      key = f"{prefix}{k}"
      if k not in old or k not in new:
        out.append(key)
      else:
        out += _diff(old[k], new[k], key + ".")
    return out
  return [] if old == new else [f"{prefix[:-1]} ({old!r} -> {new!r})"]


def _jsonable(obj: Any) -> Any:
  return json.loads(json.dumps(obj, default=str))


class Checkpointer:
  """Save/restore `TrainState`s in `directory` for one fixed config."""

  def __init__(self, directory: str, fingerprint: dict, *,
               data: tuple[str, ...] = (), max_to_keep: int = 2):
    self.directory = os.path.abspath(directory)
    self.fingerprint = _jsonable(fingerprint)
    path = os.path.join(self.directory, FINGERPRINT_FILE)
    if os.path.exists(path):
      try:
        with open(path) as f:
          stored = json.load(f)
      except ValueError as e:
        raise CheckpointError(f"{path} is corrupt ({e}); delete "
                              f"{self.directory} to start this run over")
      diff = _diff(stored, self.fingerprint)
      if diff:
        raise CheckpointError(
            f"{self.directory} holds a checkpoint made with another config "
            f"(differs in: {'; '.join(diff[:4])}); use another --workdir or "
            "delete that directory")
    elif distributed.is_main():
      io_utils.atomic_write_json(path, self.fingerprint)
    self.data = tuple(data)
    handlers = {"state": ocp.StandardCheckpointHandler(),
                **{f"data_{n}": grain.checkpoint.CheckpointHandler()
                   for n in self.data}}
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                             create=True),
        item_handlers=handlers)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, data: dict | None = None) -> None:
    """Saves `state` and the iterators `data` (one per name in `data`)."""
    data = data or {}
    if set(data) != set(self.data):
      raise ValueError(f"expected iterators {self.data}, got {tuple(data)}")
    self._manager.save(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        **{f"data_{n}": grain.checkpoint.CheckpointSave(it)
           for n, it in data.items()}))

  def restore(self, abstract_state, step: int | None = None):
    """Restores into `abstract_state` (shapes, dtypes and shardings)."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f"no checkpoint in {self.directory}")
    return self._restore(step, state=ocp.args.StandardRestore(
        abstract_state)).state

  def restore_data(self, step: int, iterators: dict) -> bool:
    """Moves fresh iterators to their positions saved at `step`.

    Returns False, changing nothing, when the step holds no positions for
    this number of processes (it was written by another process count, or
    before positions were saved); the caller then starts its iterators at
    the step, which gives the same batches, because batch k is a function
    of (seed, k).
    """
    name = f"process_{jax.process_index()}-of-{jax.process_count()}.json"
    root = os.path.join(self.directory, str(step))
    if not all(os.path.exists(os.path.join(root, f"data_{n}", name))
               for n in iterators):
      return False
    self._restore(step, **{f"data_{n}": grain.checkpoint.CheckpointRestore(it)
                           for n, it in iterators.items()})
    return True

  def _restore(self, step: int, **items):
    try:
      return self._manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # orbax raises many types for unreadable data
      raise CheckpointError(
          f"checkpoint step {step} in {self.directory} cannot be read "
          f"({type(e).__name__}: {str(e).splitlines()[0][:200]}); delete "
          "that step directory to resume from an earlier one, or the whole "
          "directory to start over") from e

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def abstract_like(tree, sharding) -> Any:
  """`ShapeDtypeStruct`s of `tree` (arrays or abstract) with `sharding`:
  one for all leaves, or a tree of them like `tree`."""
  if isinstance(sharding, jax.sharding.Sharding):
    sharding = jax.tree.map(lambda _: sharding, tree)
  return jax.tree.map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
      tree, sharding)

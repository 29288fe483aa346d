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

import contextlib
import json
import os
import shutil
import signal
import threading
from typing import Any
import weakref

import grain
import jax
import orbax.checkpoint as ocp

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils

FINGERPRINT_FILE = "fingerprint.json"


CheckpointError = errors.CheckpointError

# Checkpointers not closed yet: `close_all` finishes their saves in flight
# when a Ctrl-C stops the run outside a training loop's own handling.
_open: weakref.WeakSet = weakref.WeakSet()


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


@contextlib.contextmanager
def _interrupts_deferred():
  """SIGINT/SIGTERM received inside are raised as KeyboardInterrupt on
  leaving (main thread only; elsewhere signals cannot be handled)."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  received = []
  handler = lambda signum, frame: received.append(signum)
  previous = {s: signal.signal(s, handler)
              for s in (signal.SIGINT, signal.SIGTERM)}
  try:
    yield
  finally:
    for s, h in previous.items():
      signal.signal(s, h)
  if received:
    raise KeyboardInterrupt


class CheckpointSaveError(errors.CheckpointError):
  """A checkpoint step could not be written (disk full, permissions)."""


def _save_failure_reason(e: BaseException) -> str:
  """What an Orbax/TensorStore write error means, in a few words."""
  text = str(e)
  if isinstance(e, OSError) and e.strerror:
    return e.strerror
  if "os_error_code='28'" in text or "No space left" in text:
    return "No space left on device"
  if "os_error_code='13'" in text or "Permission denied" in text:
    return "Permission denied"
  if "os_error_code='30'" in text or "Read-only file system" in text:
    return "Read-only file system"
  first = text.strip().splitlines()[0][:200] if text.strip() else ""
  return f"{type(e).__name__}: {first}"


class Checkpointer:
  """Save/restore `TrainState`s in `directory` for one fixed config.

  The fingerprint is written with the first checkpoint, so a run that
  stopped before it (a NaN, a config error found late) leaves nothing that
  refuses the corrected config; a directory without a finished step takes
  any config.
  """

  def __init__(self, directory: str, fingerprint: dict, *,
               data: tuple[str, ...] = (), max_to_keep: int = 2):
    self.directory = os.path.abspath(directory)
    self.fingerprint = _jsonable(fingerprint)
    self.data = tuple(data)
    handlers = {"state": ocp.StandardCheckpointHandler(),
                **{f"data_{n}": grain.checkpoint.CheckpointHandler()
                   for n in self.data}}
    self._fingerprint_path = os.path.join(self.directory, FINGERPRINT_FILE)
    self._check_fingerprint()
    # A step a SIGKILL cut short is removed here, before the manager exists
    # and in this thread: Orbax's own cleanup (cleanup_tmp_directories)
    # runs in a thread that its close() does not join, and a process that
    # exits early (a refusal, a NaN in the first steps) with that thread
    # still running prints a traceback (seen once in CI).
    try:
      if os.path.isdir(self.directory):
        self._remove_unfinished()
      self._manager = ocp.CheckpointManager(
          self.directory,
          options=ocp.CheckpointManagerOptions(
              max_to_keep=max_to_keep, create=True,
              cleanup_tmp_directories=False),
          item_handlers=handlers)
      _open.add(self)
    except OSError as e:
      raise CheckpointError(f"cannot create checkpoint directory "
                            f"{self.directory} ({e.strerror})") from None

  def _check_fingerprint(self) -> None:
    """Refuses a directory whose finished steps came from another config."""
    path = self._fingerprint_path
    finished = bool(self.finished_steps())
    stored = None
    if os.path.exists(path) and finished:
      stored = io_utils.read_json(
          path, what="config fingerprint", error=CheckpointError,
          remedy=f"delete {self.directory} to start this run over")
      diff = _diff(stored, self.fingerprint)
      if diff:
        raise CheckpointError(
            f"{self.directory} holds a checkpoint made with another config "
            f"(differs in: {'; '.join(diff[:4])}); use another --workdir or "
            "delete that directory")
    # Written now for a directory of old runs that lacks one, else at the
    # first save.
    self._fingerprint_written = stored is not None
    if finished and stored is None:
      self._write_fingerprint()

  def _write_fingerprint(self) -> None:
    if distributed.is_main():
      io_utils.atomic_write_json(self._fingerprint_path, self.fingerprint)
    self._fingerprint_written = True

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, data: dict | None = None) -> None:
    """Saves `state` and the iterators `data` (one per name in `data`)."""
    data = data or {}
    if set(data) != set(self.data):
      raise ValueError(f"expected iterators {self.data}, got {tuple(data)}")
    try:
      if not self._fingerprint_written:
        self._write_fingerprint()
      # Waits for the previous save first: its failure surfaces here. A
      # Ctrl-C inside would leave Orbax's save threads half started.
      with _interrupts_deferred():
        self._manager.save(int(step), args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            **{f"data_{n}": grain.checkpoint.CheckpointSave(it)
               for n, it in data.items()}))
    except Exception as e:  # orbax and tensorstore raise many types
      kept, _ = self.settle()
      raise self.save_error(e, kept, int(step)) from e

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

  def finished_steps(self) -> list[int]:
    """The steps complete on disk (Orbax renames a step directory from
    its temporary name only when every item is written)."""
    try:
      names = os.listdir(self.directory)
    except OSError:
      return []
    return sorted(int(n) for n in names if n.isdigit()
                  and os.path.isdir(os.path.join(self.directory, n)))

  def _remove_unfinished(self) -> None:
    """Deletes temporary step directories (process 0; after every save
    has stopped)."""
    if not distributed.is_main():
      return
    for name in os.listdir(self.directory):
      if ".orbax-checkpoint-tmp" in name:
        shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)

  def settle(self) -> tuple[int | None, Exception | None]:
    """Waits for the save in flight; removes what a failed save left.
    Returns the latest complete step on disk and the save's error."""
    error = None
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # the background save's error
      error = e
    self._remove_unfinished()
    steps = self.finished_steps()
    return (steps[-1] if steps else None), error

  def save_error(self, error: Exception, kept: int | None,
                 step: int | None = None) -> CheckpointSaveError:
    """The one error for a failed save, naming `kept`, the step `settle`
    found complete on disk."""
    kept_text = (f"the last complete checkpoint, step {kept}, is kept"
                 if kept is not None else "no complete checkpoint is kept")
    when = f" at step {step} or before" if step is not None else ""
    return CheckpointSaveError(
        f"could not write a checkpoint in {self.directory}{when} "
        f"({_save_failure_reason(error)}); {kept_text}. Free space (or fix "
        "the directory's permissions) and rerun the same command to "
        "resume")

  def wait(self) -> None:
    """Blocks until the save in flight is on disk; a failed save raises
    `CheckpointSaveError`, leaving no temporary directory."""
    kept, error = self.settle()
    if error is not None:
      raise self.save_error(error, kept) from error

  def close(self) -> None:
    """Waits for the last save (raising `CheckpointSaveError` if it
    failed) and closes the manager."""
    try:
      self.wait()
    finally:
      _open.discard(self)
      self._manager.close()


def close_all() -> None:
  """Waits for the save in flight of every Checkpointer not yet closed and
  closes it, for a run stopped (Ctrl-C) between a loop's last save and its
  `close()`: a save left running would fail, loudly, when the interpreter
  shuts its thread pools down. Their errors are dropped: the interruption
  is what stopped the run and what the user is told."""
  for ckpt in list(_open):
    try:
      ckpt.close()
    except Exception:  # noqa: BLE001 - see above
      pass


def abstract_like(tree, sharding) -> Any:
  """`ShapeDtypeStruct`s of `tree` (arrays or abstract) with `sharding`:
  one for all leaves, or a tree of them like `tree`."""
  if isinstance(sharding, jax.sharding.Sharding):
    sharding = jax.tree.map(lambda _: sharding, tree)
  return jax.tree.map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
      tree, sharding)

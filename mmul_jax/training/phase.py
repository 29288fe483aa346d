"""One resumable training phase: what training the original, retraining and
unlearning share.

A phase is a run directory with a config fingerprint, some named input
streams and a state. `run_phase` opens the checkpointer, resumes the state
and the streams' positions (or builds and places a fresh state), returns
the record of a phase already finished, else runs the jitted step to
`num_steps`, checkpointing, and writes the record atomically (process 0).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Iterator

import jax

from mmul_jax import checkpoint
from mmul_jax import distributed
from mmul_jax import io_utils
from mmul_jax.training import events as events_lib
from mmul_jax.training import loop
from mmul_jax.training import state as state_lib


@dataclasses.dataclass(frozen=True)
class Phase:
  """What `run_phase` runs.

  directory, fingerprint: the run directory and the config guarding it.
  streams: the named grain `MapDataset`s the phase reads (their positions
    are checkpointed); batches(iterators) turns their iterators into the
    step's batches.
  initial_state(): a fresh host state; state_sharding(tree): its
    shardings over the mesh.
  make_step(state) -> (step, frozen): the jitted step and its extra
    arguments, built only when there are steps to run.
  record(state, latest, history, seconds): the phase's record
    (`info_file`), from the final state, the step resumed from, the logged
    metrics and the loop's time.
  """

  directory: str
  fingerprint: dict
  streams: dict[str, Any]
  batches: Callable[[dict], Iterator[Any]]
  initial_state: Callable[[], Any]
  state_sharding: Callable[[Any], Any]
  make_step: Callable[[Any], tuple[Callable, tuple]]
  record: Callable[[Any, int | None, list, float], dict]
  num_steps: int
  checkpoint_every: int
  log_every: int
  desc: str
  info_file: str
  what: str = "training record"  # the record, in an error message
  stop_on_nonfinite: bool = True  # `loop.run_steps`' NaN guard
  # TensorBoard: the events' directory (None: none written) and the
  # learning rate of a step (a number, or one per vmapped model).
  events_dir: str | None = None
  learning_rate: Callable[[int], Any] | None = None
  # Evaluation during the phase (`unlearn.monitor.Monitor`), or None.
  monitor: Any = None


def abstract_state(create: Callable[[], Any], state_sharding):
  """Shapes and shardings of the state `create()` builds (no compute)."""
  shapes = jax.eval_shape(create)
  return checkpoint.abstract_like(shapes, state_sharding(shapes))


def place(tree, state_sharding):
  """A host-built tree laid out over the mesh."""
  return jax.device_put(tree, state_sharding(tree))


def run_phase(phase: Phase, *, mesh, abstract_init: Callable[[], Any] | None
              = None) -> tuple[Any, dict]:
  """Returns `(state, record)`: trains, resumes, or just loads if finished.

  `abstract_init` builds a state of the same shapes as `initial_state`
  without its cost (random towers instead of pretrained ones); it gives
  the restore target. The mesh lays out the batches.
  """
  p = phase
  ckpt = checkpoint.Checkpointer(p.directory, p.fingerprint,
                                 data=tuple(p.streams))
  state, iterators, latest = loop.resume(
      ckpt, lambda: abstract_state(abstract_init or p.initial_state,
                                   p.state_sharding), p.streams)
  if state is None:
    state = place(p.initial_state(), p.state_sharding)
  watch = p.monitor
  try:
    return _run(p, ckpt, state, iterators, latest, mesh, watch)
  finally:
    if watch is not None:
      watch.close()


def _run(p: Phase, ckpt, state, iterators, latest, mesh, watch):
  if watch is not None:
    watch.resume(state_lib.step_of(state))
  info_path = os.path.join(p.directory, p.info_file)
  at = state_lib.step_of(state)
  stopped = watch is not None and watch.finished(at)  # early, at `at`
  if (at >= p.num_steps or stopped) and os.path.exists(info_path):
    ckpt.close()
    record = io_utils.read_json(
        info_path, what=p.what,
        remedy="delete it and rerun the same command (the finished "
        "checkpoint is reused; the record is rewritten)")
    return (watch.finish(state) if watch is not None else state), record
  step, frozen = p.make_step(state)
  events = events_lib.EventLog(p.events_dir)
  if watch is not None:
    watch.events = events
  try:
    state, history, seconds = loop.run_steps(
        step, state, p.batches(iterators), mesh=mesh,
        num_steps=at if stopped else p.num_steps,
        checkpointer=ckpt, checkpoint_every=p.checkpoint_every,
        log_every=p.log_every, desc=p.desc, frozen=frozen, data=iterators,
        stop_on_nonfinite=p.stop_on_nonfinite, events=events,
        learning_rate=p.learning_rate, monitor=watch)
  finally:
    events.close()
  ckpt.close()
  if watch is not None:
    state = watch.finish(state)
  record = p.record(state, latest, history, seconds)
  if watch is not None:
    record["monitor"] = watch.summary()
  if distributed.is_main():
    io_utils.atomic_write_json(info_path, record)
  return state, record

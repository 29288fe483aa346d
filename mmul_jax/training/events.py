"""TensorBoard event files of a run, written without TensorFlow.

Every phase (training the original, retraining, unlearning, a benchmark
cell's run, a tuner's batch of trials) writes its logged metrics under
`WORKDIR/tb/<phase>`, `<phase>` being the phase's run directory relative to
the workdir (`original`, `retrain/<deletion>`, `unlearn/<method>/...`), so
`tensorboard --logdir WORKDIR/tb` shows every run of a workdir side by
side. The writer is tensorboardX's (numpy and protobuf only): clu's metric
writers need TensorFlow, and tensorboard's own `SummaryWriter` is
`torch.utils.tensorboard`'s. Only process 0 writes.

A value logged for K vmapped models (a list) is written once per model, as
`<name>/model_<k>`.
"""

from __future__ import annotations

import os
from typing import Mapping

from mmul_jax import distributed

TB_DIR = "tb"


def log_dir(workdir: str, directory: str) -> str:
  """Where the events of the phase running in `directory` go."""
  rel = os.path.relpath(os.path.abspath(directory), os.path.abspath(workdir))
  if rel.startswith(os.pardir):  # a phase outside the workdir: its name
    rel = os.path.basename(os.path.normpath(directory))
  return os.path.join(workdir, TB_DIR, rel)


def scalars(values: Mapping[str, object]) -> dict[str, float]:
  """The flat scalars of logged metrics: numbers as they are, a list of K
  numbers as K `name/model_k` entries, anything else (flags) left out."""
  out = {}
  for name, value in values.items():
    if isinstance(value, bool):
      continue
    if isinstance(value, (int, float)):
      out[name] = float(value)
    elif (isinstance(value, (list, tuple)) and value
          and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                  for v in value)):
      out.update({f"{name}/model_{k}": float(v)
                  for k, v in enumerate(value)})
  return out


class EventLog:
  """Scalars of one phase, by step. Opened lazily (a phase that runs no
  step writes no file) and only on process 0; `close()` flushes."""

  def __init__(self, directory: str | None):
    self.directory = directory
    self._writer = None

  @property
  def enabled(self) -> bool:
    return self.directory is not None and distributed.is_main()

  def write(self, step: int, values: Mapping[str, object],
            prefix: str = "") -> None:
    if not self.enabled:
      return
    if self._writer is None:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._writer = SummaryWriter(self.directory, flush_secs=30)
    for name, value in scalars(values).items():  # NaN too: it is news
      self._writer.add_scalar(prefix + name, value, int(step))
    self._writer.flush()

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()
      self._writer = None


def read(directory: str) -> dict[str, list[tuple[int, float]]]:
  """`{tag: [(step, value), ...]}` of the event files under `directory`
  (needs the `tensorboard` package, installed with the test extra)."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  acc = event_accumulator.EventAccumulator(
      directory, size_guidance={event_accumulator.SCALARS: 0})
  acc.Reload()
  return {tag: [(e.step, e.value) for e in acc.Scalars(tag)]
          for tag in acc.Tags()["scalars"]}

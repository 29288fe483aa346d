"""Per-example score files: `{model: {set: {name: array}}}` as one `.npz`
(keys "model/set/name"), written atomically, with the task's name, so a
metric can be recomputed later without running a model."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils

_TASK_KEY = "__task__"


def save(path: str, scores: dict, *, task: str) -> None:
  """Writes `scores` beside its final name, then renames it into place."""
  flat = {f"{m}/{s}/{n}": np.asarray(a) for m, sets in scores.items()
          for s, names in sets.items() for n, a in names.items()}
  flat[_TASK_KEY] = np.asarray(task)
  io_utils.atomic_write(path, lambda f: np.savez(f, **flat), binary=True)


def load(path: str) -> tuple[dict, str]:
  """`(scores, task name)` of a file `save` wrote; a missing, truncated
  or foreign file raises `DataError` saying what to do."""
  remedy = ("delete it and rerun the command that wrote it (finished "
            "models are reloaded from their checkpoints and scored again)")
  if not os.path.exists(path):
    raise errors.DataError(f"no score file at {path}; run scripts/shadow.py "
                           "(or scripts/unlearn.py) first")
  try:
    with np.load(path, allow_pickle=False) as z:
      flat = {k: z[k] for k in z.files}
  except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
    raise errors.DataError(f"score file {path} is unreadable ({e}); "
                           f"{remedy}") from None
  if _TASK_KEY not in flat:
    raise errors.DataError(f"{path} is not a score file of this project "
                           f"(no task name); {remedy}")
  task = str(flat.pop(_TASK_KEY))
  scores: dict = {}
  for key, a in flat.items():
    m, s, n = key.split("/", 2)
    scores.setdefault(m, {}).setdefault(s, {})[n] = a
  return scores, task


def cached(path: str, compute, *, task: str,
           record_path: str | None = None) -> tuple[dict, object]:
  """`(scores, record)` of a finished, fixed model, computed once:
  `compute() -> (scores, record)` runs only when the cache is absent. The
  scores are kept at `path`; the record (JSON: the metrics the same pass
  computed), if `record_path`, beside it, written last so that it marks
  the cache complete. Only the main process writes."""
  if os.path.exists(path) and (record_path is None
                               or os.path.exists(record_path)):
    record = record_path and io_utils.read_json(
        record_path, what="cached evaluation",
        remedy="delete it and rerun the same command (the model is "
        "evaluated again)")
    return load(path)[0]["model"], record
  scores, record = compute()
  if distributed.is_main():
    save(path, {"model": scores}, task=task)
    if record_path:
      io_utils.atomic_write_json(record_path, record)
  return scores, record

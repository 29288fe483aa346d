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
_NUMBERS = "biuf"  # dtype kinds a score may have: bools, integers, floats


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
  name = flat.pop(_TASK_KEY, None)
  if name is None or name.ndim or name.dtype.kind != "U":
    raise errors.DataError(f"{path} is not a score file of this project "
                           f"(no task name); {remedy}")
  scores: dict = {}
  for key, a in flat.items():
    parts = key.split("/", 2)
    if len(parts) != 3 or not all(parts):
      raise errors.DataError(
          f"{path} is not a score file of this project (array {key!r} is "
          f"not named model/set/name); {remedy}")
    if a.dtype.kind not in _NUMBERS:
      raise errors.DataError(
          f"{path}: array {key!r} holds {a.dtype} values, not numbers; "
          f"{remedy}")
    m, s, n = parts
    scores.setdefault(m, {}).setdefault(s, {})[n] = a
  return scores, str(name)


def check_for_audit(path: str, scores: dict, task: str, catalog: dict, *,
                    models, sets, min_models: int, auc_num_samples: int,
                    option: str) -> tuple:
  """The representations of `task` (`catalog`: every task's, by name),
  once `scores` (as `load` gave them) hold what the leakage audit reads:
  `models` and every other model in the file, each with every
  representation on every one of `sets`, as `(K, N)` scores or `(K, N, D)`
  vectors of finite numbers, K >= `min_models` the same in every array,
  every model scored on the same examples, and enough Dr examples for
  `auc_num_samples` disjoint samples of |Df| (`option`: the flag or key
  that sets it). Raises `DataError` naming the file and the array (a
  `ConfigError` naming `option` for too few Dr examples) instead of a
  KeyError or a numpy error half-way through the audit."""
  remedy = ("rerun the scripts/shadow.py command that wrote it (finished "
            "models are reloaded and their scores rewritten)")
  if task not in catalog:
    raise errors.DataError(f"{path} holds the scores of task {task!r}, "
                           f"which this version does not know (it knows "
                           f"{', '.join(sorted(catalog))})")
  reps = catalog[task]
  for m in models:
    if m not in scores:
      raise errors.DataError(
          f"{path} has no scores of the {m!r} models (it has "
          f"{', '.join(map(repr, scores))}); the audit needs the original "
          f"and the retrained models'; {remedy}")
  first = None  # (key, K): every array has one row per model seed
  for m in [*models, *(m for m in scores if m not in models)]:
    for s in sets:
      for rep in reps:
        key = f"{m}/{s}/{rep.name}"
        a = scores[m].get(s, {}).get(rep.name)
        if a is None:
          fits = [t for t, r in sorted(catalog.items())
                  if _holds(scores, models, sets, r)]
          raise errors.DataError(
              f"{path} has no array {key!r}, which a {task} task's "
              f"{rep.title} needs" + (
                  f" (its arrays fit a {' or '.join(fits)} task)"
                  if fits and task not in fits else "") + f"; {remedy}")
        ndim = 3 if rep.kind == "vector" else 2
        if a.ndim != ndim:
          single = a.ndim == ndim - 1
          raise errors.DataError(
              f"{path}: array {key!r} has shape {a.shape}, not "
              f"{'(K, N, D)' if ndim == 3 else '(K, N)'} (K models, N "
              "examples)" + (
                  "; this looks like a single run's scores (scripts/"
                  "unlearn.py writes them without the model axis): "
                  "rescore a file scripts/shadow.py wrote" if single else
                  f"; {remedy}"))
        if first is None:
          first = (key, a.shape[0])
        elif a.shape[0] != first[1]:
          raise errors.DataError(
              f"{path}: array {key!r} holds {a.shape[0]} models, "
              f"{first[0]!r} {first[1]}; every array has a row per model "
              f"seed; {remedy}")
        ref = f"{models[0]}/{s}/{rep.name}"
        if a.shape != scores[models[0]][s][rep.name].shape:
          raise errors.DataError(
              f"{path}: array {key!r} has shape {a.shape}, {ref!r} "
              f"{scores[models[0]][s][rep.name].shape}; every model is "
              f"scored on the same examples; {remedy}")
        if not a.shape[1]:
          raise errors.DataError(f"{path}: array {key!r} holds no "
                                 f"examples; {remedy}")
        bad = ~np.isfinite(a)
        if bad.any():
          n, where = int(bad.sum()), tuple(map(int, np.argwhere(bad)[0]))
          raise errors.DataError(
              f"{path}: array {key!r} holds {n} NaN or infinite "
              f"value{'s' if n > 1 else ''} (the first at index {where}); "
              f"{remedy}")
  if first[1] < min_models:
    raise errors.DataError(
        f"{path} holds the scores of {first[1]} models per kind; the audit "
        f"needs at least {min_models} (scripts/shadow.py with "
        f"shadow.num_models >= {min_models})")
  if auc_num_samples < 1:
    raise errors.ConfigError(f"{option} must be at least 1, got "
                             f"{auc_num_samples}")
  for rep in reps:
    df, dr = (scores[models[0]][s][rep.name].shape[1] for s in ("df", "dr"))
    if auc_num_samples * df > dr:
      most = dr // df
      raise errors.ConfigError(
          f"{option}={auc_num_samples} draws {auc_num_samples} disjoint Dr "
          f"samples of |Df| = {df} ('{models[0]}/df/{rep.name}'), "
          f"{auc_num_samples * df} examples, but {path} holds {dr} of Dr "
          f"('{models[0]}/dr/{rep.name}'); " + (
              f"pass {option}={most} or less" if most else
              "it has fewer Dr examples than Df, so no AUC can be drawn"))
  return reps


def _holds(scores: dict, models, sets, reps) -> bool:
  """Whether every model of `models` has every one of `reps` on `sets`."""
  return all(r.name in scores.get(m, {}).get(s, {})
             for m in models for s in sets for r in reps)


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

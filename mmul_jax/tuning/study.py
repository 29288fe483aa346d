"""A method's Optuna study in the workdir, asked for batches of trials.

The study lives in a journal file (`optuna.storages.JournalStorage`), so
a killed tuner resumes: finished trials are read back, and the trials of
the batch that was running are run again with the same values (their
unlearning run resumes from its checkpoints). Each batch is proposed by a
TPE sampler seeded by `(seed, batch index)` with the constant liar for
the batch's running trials, so what is asked depends only on the study's
history, and a resumed study asks what an uninterrupted one would.

A batch shares its structural values (`space.Param.batched` is False:
step counts, batch sizes, floats baked into a method's functions): the
first trial of a batch is proposed freely and the others are enqueued
with its structural values fixed, the rest proposed by the sampler. So
every batch runs as one vmapped program, and structural values are
searched across batches.
"""

from __future__ import annotations

import os

from mmul_jax.tuning import objective
from mmul_jax.tuning import search_space as space_lib

BATCH = "batch"  # a trial's user attribute: the index of its batch


def _optuna():
  import optuna  # only the tuner needs it
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  return optuna


def open_study(path: str, name: str, *, seed: int = 0, batch: int = 0,
               startup_trials: int = 8):
  """The study `name` in the journal file `path` (made if new), with the
  sampler of batch index `batch`."""
  optuna = _optuna()
  from optuna.storages import journal
  os.makedirs(os.path.dirname(path), exist_ok=True)
  storage = optuna.storages.JournalStorage(journal.JournalFileBackend(path))
  sampler = optuna.samplers.TPESampler(
      seed=(int(seed) * 1_000_003 + int(batch)) % 2 ** 32,
      n_startup_trials=startup_trials, constant_liar=True, multivariate=True)
  return optuna.create_study(storage=storage, study_name=name,
                             directions=list(objective.DIRECTIONS),
                             sampler=sampler, load_if_exists=True)


def counts(study) -> dict[str, int]:
  """Trials by state name ("COMPLETE", "FAIL", "RUNNING", ...)."""
  out: dict[str, int] = {}
  for t in study.get_trials(deepcopy=False):
    out[t.state.name] = out.get(t.state.name, 0) + 1
  return out


def running_batch(study):
  """Every trial (frozen, in number order) of the earliest batch some of
  whose trials are still running, or []: what a killed tuner left. The
  batch is whole, finished trials included, so its run directory (named
  by all its settings) is found again and resumes."""
  trials = study.get_trials(deepcopy=False)
  running = [t.user_attrs.get(BATCH, -1) for t in trials
             if t.state.name == "RUNNING"]
  if not running:
    return []
  first = min(running)
  return sorted((t for t in trials if t.user_attrs.get(BATCH, -1) == first),
                key=lambda t: t.number)


def next_batch_index(study) -> int:
  return 1 + max((t.user_attrs.get(BATCH, -1)
                  for t in study.get_trials(deepcopy=False)), default=-1)


def ask_batch(study, sp: dict, size: int, batch: int) -> list:
  """Asks `size` trials that share their structural values; returns their
  frozen trials (numbers and params)."""
  dists = space_lib.to_optuna(sp)
  lead = study.ask(dists)
  lead.set_user_attr(BATCH, batch)
  fixed = {k: lead.params[k] for k, p in sp.items() if not p.batched}
  numbers = [lead.number]
  for _ in range(size - 1):
    study.enqueue_trial(fixed, skip_if_exists=False)
    t = study.ask(dists)
    t.set_user_attr(BATCH, batch)
    numbers.append(t.number)
  by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
  return [by_number[n] for n in numbers]


def tell(study, trial, values=None, attrs: dict | None = None) -> None:
  """Finishes `trial` (a frozen trial of `study`): complete with
  `values`, or failed (None), with `attrs` as its user attributes."""
  optuna = _optuna()
  # A resumed batch has only frozen trials, and Optuna's public setter is
  # on live ones: set the attributes through the study's storage.
  for k, v in (attrs or {}).items():
    study._storage.set_trial_user_attr(trial._trial_id, k, v)
  if values is None:
    study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
  else:
    study.tell(trial.number, list(values))

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

A study is tied to what it searches (`claim`): its search space and the
settings every trial shares (`describe`) are recorded with it (the user
attribute `SPACE`). A rerun whose space or shared settings changed (other
`tune.learning_rates`, step counts or Df batch sizes, a method's ranges,
another `unlearn.dr_batch_size`) starts a new study: the old journal is
kept beside it as `<method>.<digest>.journal`, and is taken up again when
the same space comes back. Old and new trials are never mixed, and the
budget (`budget_used`) restarts with the new space.

The journal is checked before Optuna appends to it (`check_journal`): a
last line cut short by a kill (never committed, and ignored by Optuna) is
cut away with a warning; any other corrupt line stops the run naming the
file and line. A trial left without every parameter of the space (a
kill or an error while it was asked) is failed (`INCOMPLETE`): it never
becomes the tuned setting and does not count against the budget.
"""

from __future__ import annotations

import hashlib
import json
import os

from absl import logging

from mmul_jax import errors
from mmul_jax.tuning import objective
from mmul_jax.tuning import search_space as space_lib

BATCH = "batch"  # a trial's user attribute: the index of its batch
SPACE = "search_space"  # the study's user attribute: `describe`'s dict
INCOMPLETE = "incomplete"  # a failed trial's user attribute: never run


def _optuna():
  optuna = errors.require("optuna", extra="tune",
                          needed_for="the hyperparameter search")
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  return optuna


def open_study(path: str, name: str, *, seed: int = 0, batch: int = 0,
               startup_trials: int = 8):
  """The study `name` in the journal file `path` (made if new), with the
  sampler of batch index `batch`."""
  optuna = _optuna()
  from optuna.storages import journal
  os.makedirs(os.path.dirname(path), exist_ok=True)
  check_journal(path)
  storage = optuna.storages.JournalStorage(journal.JournalFileBackend(path))
  sampler = optuna.samplers.TPESampler(
      seed=(int(seed) * 1_000_003 + int(batch)) % 2 ** 32,
      n_startup_trials=startup_trials, constant_liar=True, multivariate=True)
  return optuna.create_study(storage=storage, study_name=name,
                             directions=list(objective.DIRECTIONS),
                             sampler=sampler, load_if_exists=True)


def check_journal(path: str) -> None:
  """Makes the journal file `path` safe to append to (module docstring).
  Optuna reads a record per line and appends after the last byte, so a
  last line cut short by a kill would have the next record written onto
  it, and the file could not be read again."""
  if not os.path.exists(path):
    return
  with open(path, "rb") as f:
    data = f.read()
  end = data.rfind(b"\n") + 1  # after the last whole line
  for n, raw in enumerate(data[:end].split(b"\n")[:-1], 1):
    try:
      json.loads(raw.decode("utf-8"))
    except ValueError:  # not UTF-8, or not JSON
      raise errors.DataError(
          f"{path}, line {n} is not a journal record (the file is "
          "corrupt); move the file aside to start this method's study "
          "again (its trials then run again)") from None
  if end < len(data):
    logging.warning("%s: its last line was cut short by a kill and never "
                    "committed; cut it away (%d bytes)", path,
                    len(data) - end)
    os.truncate(path, end)


def describe(sp: dict, fixed: dict | None = None) -> dict:
  """What a study searches, as JSON: each parameter's range or choices
  (`sp`), and the `fixed` settings (dotted keys) every trial shares."""
  params = {k: ({"choices": list(p.choices)} if p.scale == "choice" else
                {"low": p.low, "high": p.high, "scale": p.scale})
            for k, p in sp.items()}
  # As the journal gives it back (lists, sorted keys): compared to it.
  return json.loads(json.dumps({"space": params, "fixed": fixed or {}},
                               sort_keys=True))


def digest(description: dict) -> str:
  """A short hash of a `describe` dict: the name a kept study goes by."""
  text = json.dumps(description, sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:10]


def _searched(trials) -> dict | None:
  """The space of a study from before `SPACE` was recorded, read from
  its trials' Optuna distributions; None where two trials disagree."""
  out = {}
  for t in trials:
    for k, d in t.distributions.items():
      v = ({"choices": list(d.choices)} if hasattr(d, "choices") else
           {"low": d.low, "high": d.high,
            "scale": "log" if d.log else "linear"})
      if out.setdefault(k, v) != v:
        return None
  return json.loads(json.dumps(out, sort_keys=True))


def _changes(old: dict, new: dict) -> str:
  """The keys whose range, choices or fixed value differ (a study from
  before the shared settings were recorded: its space only)."""
  parts = ("space",) if old.get("fixed") is None else ("space", "fixed")
  keys = sorted({k for part in parts
                 for k in {*(old[part] or {}), *new[part]}
                 if (old[part] or {}).get(k) != new[part].get(k)})
  return ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")


def _kept_path(path: str, name: str, description: dict) -> str:
  return os.path.join(os.path.dirname(path),
                      f"{name}.{digest(description)}.journal")


def claim(path: str, name: str, description: dict) -> str | None:
  """Makes the journal `path` hold study `name` searching `description`
  (module docstring): a study there that searched something else is kept
  beside it, and one kept for `description` is taken up again. Returns a
  line saying what moved, or None."""
  check_journal(path)
  study = _load(path, name)
  note = None
  if study is not None:
    recorded = study.user_attrs.get(SPACE)
    if recorded is None:  # from before SPACE was recorded
      searched = _searched(study.get_trials(deepcopy=False))
      if searched in ({}, description["space"]):  # the same space: adopt
        study.set_user_attr(SPACE, description)
        return None
      recorded = {"space": searched, "fixed": None}
    elif recorded == description:
      return None
    kept = _kept_path(path, name, recorded)
    stem, n = kept[:-len(".journal")], 2
    while os.path.exists(kept):  # never overwrite a kept study
      kept, n = f"{stem}-{n}.journal", n + 1
    os.replace(path, kept)
    note = (f"{path} searched another space or with other shared settings "
            f"({_changes(recorded, description)}); kept it as "
            f"{os.path.basename(kept)}, ")
  elif os.path.exists(path):  # a journal without this study: nothing lost
    os.remove(path)
  earlier = _kept_path(path, name, description)
  if os.path.exists(earlier):
    check_journal(earlier)
    os.replace(earlier, path)
    return (note or f"{path}: ") + (
        f"took up again the study kept as {os.path.basename(earlier)}")
  _load(path, name, create=True).set_user_attr(SPACE, description)
  return note and note + "started a new study"


def _load(path: str, name: str, create: bool = False):
  """Study `name` of journal `path` (None if it has none, unless
  `create`), with Optuna's default sampler: for its attributes."""
  optuna = _optuna()
  from optuna.storages import journal
  os.makedirs(os.path.dirname(path), exist_ok=True)
  if not create and not os.path.exists(path):
    return None
  storage = optuna.storages.JournalStorage(journal.JournalFileBackend(path))
  names = optuna.get_all_study_names(storage)
  if name not in names and not create:
    return None
  return optuna.create_study(storage=storage, study_name=name,
                             directions=list(objective.DIRECTIONS),
                             load_if_exists=True)


def defined(trial, sp: dict) -> bool:
  """Whether `trial` has a value for every parameter of `sp`."""
  return set(trial.params) == set(sp)


def fail_incomplete(study, sp: dict) -> int:
  """Fails (`INCOMPLETE`) every running trial without a value for each
  parameter of `sp`, and every queued one (asked or enqueued when a kill
  or an error struck): it cannot run, and must never be told complete
  (nor lead a later batch). Returns how many."""
  bad = [t for t in study.get_trials(deepcopy=False)
         if t.state.name == "WAITING"
         or t.state.name == "RUNNING" and not defined(t, sp)]
  for t in bad:
    _fail_unrun(study, t)
  return len(bad)


def _fail_unrun(study, trial) -> None:
  """Fails a running or queued trial that never ran (Optuna's `tell`
  takes running trials only)."""
  study._storage.set_trial_user_attr(trial._trial_id, INCOMPLETE, True)
  study._storage.set_trial_state_values(
      trial._trial_id, _optuna().trial.TrialState.FAIL)


def budget_used(study) -> int:
  """The trials that count against `tune.num_trials`: every trial asked
  to run (complete, failed, diverged or running), not those failed as
  `INCOMPLETE` (never run) nor queued ones."""
  return sum(1 for t in study.get_trials(deepcopy=False)
             if t.state.name != "WAITING"
             and not t.user_attrs.get(INCOMPLETE))


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
  numbers = []
  try:
    lead = study.ask(dists)
    lead.set_user_attr(BATCH, batch)
    numbers.append(lead.number)
    fixed = {k: lead.params[k] for k, p in sp.items() if not p.batched}
    for _ in range(size - 1):
      study.enqueue_trial(fixed, skip_if_exists=False)
      t = study.ask(dists)
      t.set_user_attr(BATCH, batch)
      numbers.append(t.number)
  except Exception:
    # Asked with no batch running (`running_batch`): every running or
    # queued trial is this batch's, and none has run. None is left to
    # be resumed half-asked.
    for t in study.get_trials(deepcopy=False):
      if t.state.name in ("RUNNING", "WAITING"):
        _fail_unrun(study, t)
    raise
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

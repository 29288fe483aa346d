"""`tune(config, workdir)`: every method gets the same budget of Optuna
trials, run a batch at a time under `jax.vmap`, selected without test data.

The tuner's models live in `WORKDIR/tune`, an experiment whose held-out
set is a validation carve of the training data (`config.tune.
validation_fraction` of the units, drawn from Dr, never Df): its original
and retrained models train without those units, and no test example is
loaded or scored (setup only indexes the split). Per method
(`config.tune.methods`, default every method with something to tune)
the study in `WORKDIR/tune/studies/<method>.journal`
proposes `tune.num_trials` settings from the method's search space
(`tuning.search_space`), `tune.batch_size` at a time sharing their structural
values (`tuning.study`); each batch unlearns as one vmapped program
(`unlearn.trials`), each trial is evaluated on Df, Dr and validation and
told its objectives (`tuning.objective`: the gap to the retrained model,
and validation utility). A killed tuner resumes: finished trials are read
from the journal, the running batch resumes from its checkpoints.

Everything the run needs is checked before any model trains: each method
of `tune.methods` on the task (MMUL needs two modalities) and at every
corner of its search space, on the deletion set. Without `tune.methods`,
the methods the task or config refuses are left out, and named.

A study is tied to its search space and to the settings its trials share
(`tuning.study.claim`): rerunning with another space (other
`tune.learning_rates`, `tune.num_steps`, `tune.df_batch_sizes`, a
method's ranges, or another shared unlearning setting) starts a new study,
and the old journal is kept beside it as `<method>.<digest>.journal`
(taken up again if that space comes back). The budget, `tune.num_trials`,
counts every trial run, failed and diverged ones too, so each method gets
the same compute; a study whose every trial failed is rerun by changing
the space (e.g. lower `tune.learning_rates`), which starts a new study.

Writes `WORKDIR/tuned.json` (per method the chosen setting, its scores,
the Pareto front and every trial; `settings` is what
`compare_methods.py --settings` and the benchmark grid read, each entry
checked as the config schema checks a config: `read_settings`) and
`WORKDIR/tuning.md`.
"""

from __future__ import annotations

import json
import math
import os
import time

from mmul_jax import config_schema
from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax import workdir_lock
from mmul_jax.data import datasets
from mmul_jax.data.core import deletion_policy
from mmul_jax.evaluation import report
from mmul_jax.training import sharding
from mmul_jax.training import vmapped
from mmul_jax.tuning import objective
from mmul_jax.tuning import search_space as space_lib
from mmul_jax.tuning import study as study_lib
from mmul_jax.unlearn import judges
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import run as run_lib
from mmul_jax.unlearn import trials as trials_lib
from mmul_jax.unlearn import worst_case

TUNE_DIR = "tune"
TUNED_FILE = "tuned.json"
TABLE_FILE = "tuning.md"
VERSION = 1


# The tuner never runs the config's own method (often "mmul", which a
# one-modality task refuses), so its experiment names one that takes every
# task and setting, as the benchmark grid does.
_STAND_IN = "finetune"


def read_settings(path: str) -> dict[str, dict]:
  """`{method: setting (dotted keys)}` of a tuned.json, every entry checked
  (`check_setting`) before anything runs."""
  record = io_utils.read_json(
      os.path.expanduser(path), "settings", what="tuned settings",
      remedy="rerun scripts/tune.py to write it again",
      error=errors.ConfigError)
  settings = record["settings"]
  if not isinstance(settings, dict):
    raise errors.ConfigError(
        f"{path}: \"settings\" must map method names to settings, got "
        f"{type(settings).__name__}; rerun scripts/tune.py to write it again")
  for name, setting in settings.items():
    if name not in methods.METHODS:
      raise errors.ConfigError(
          f"{path} holds settings for {name!r}, which is not a registered "
          f"method; available: {sorted(methods.METHODS)}; fix or remove "
          "that entry")
    check_setting(path, name, setting)
  return settings


_TYPE_WORDS = {"float": "a number", "int": "an integer", "str": "a string",
               "bool": "true or false", "tuple": "a list"}


def check_setting(path: str, name: str, setting) -> None:
  """Raises a one-line `ConfigError` naming `path`, method `name` and the
  key, unless `setting` holds only the run's unlearning keys (`unlearn.*`
  and `method.<name>.*`, what the tuner writes), each of the type and in
  the range the config schema allows, and is valid as a whole."""
  where = f"{path}, method {name!r}"
  if not isinstance(setting, dict):
    raise errors.ConfigError(
        f"{where}: a setting must map config keys to values, got "
        f"{setting!r}")
  # A method of other task kinds only is checked on an embedded one.
  base = config_schema.default_config_for(name)
  defaults = config_schema.flatten(base)
  allowed = {k for k in defaults
             if k.startswith(("unlearn.", f"method.{name}."))}

  def refuse(e: errors.ConfigError, key: str | None = None):
    msg = str(e).removeprefix(f"method {name!r}: ")  # named already
    return errors.ConfigError(
        f"{where}{'' if key is None else ', ' + key}: {msg}")

  for key, value in setting.items():
    if key not in allowed:
      raise errors.ConfigError(
          f"{where}: {key} is not an unlearning setting of {name!r}; a "
          f"tuned setting holds unlearn.* and method.{name}.* keys only"
          if key in defaults else
          f"{where}: {config_schema.unknown_key_message(key, allowed)}")
    default = defaults[key]
    kind = type(default).__name__
    wrong = errors.ConfigError(
        f"{where}: {key} = {value!r} must be "
        f"{_TYPE_WORDS.get(kind, 'a ' + kind)}, like its default "
        f"{default!r}")
    if isinstance(value, bool) != isinstance(default, bool):
      raise wrong
    c = base.copy_and_resolve_references()
    try:
      c.update_from_flattened_dict({key: value})
    except (TypeError, ValueError):  # ml_collections' type check
      raise wrong from None
    try:
      config_schema.validate(c)
    except errors.ConfigError as e:
      raise refuse(e, key) from None
  c = base.copy_and_resolve_references()
  c.update_from_flattened_dict(dict(setting))
  try:
    config_schema.validate(c)  # what only the keys together break
  except errors.ConfigError as e:
    raise refuse(e) from None


def tuning_config(config):
  """The tuner's experiment: `config` with the validation carve on (and a
  stand-in method: the config's own is never run)."""
  c = config.copy_and_resolve_references()
  c.data.validation_fraction = float(c.tune.validation_fraction)
  c.method.name = _STAND_IN
  return c


def method_names(config) -> list[str]:
  """`tune.methods`, each of which must run on the task and config; or
  every registered method with a search space, less those the task or
  config refuses (printed). Before any compute: `config` is checked."""
  c = tuning_config(config)
  task = tasks.for_dataset(datasets.spec_of(c.data))
  given = list(config.tune.methods)
  names = given or [n for n in methods.METHODS
                    if space_lib.space(n, space_lib.shared(c.tune))]
  out, skipped = [], []
  for n in names:
    m = methods.get(n)  # an unknown name: one line naming the known ones
    refused = m.task_problems(c.method.get(n), task)
    why = ""
    if not space_lib.space(n, space_lib.shared(c.tune)):
      why = "it has nothing to tune (its grid is one empty setting)"
    elif refused:
      why = f"data.name = {c.data.name!r} refuses it: {refused[0]}"
    else:
      try:
        config_schema.validate(trial_config(c, n, {}))
      except errors.ConfigError as e:
        why = f"this config refuses it: {e}"
    if not why:
      out.append(n)
    elif given:
      raise errors.ConfigError(
          f"tune.methods names {n!r}, but {why}; leave {n!r} out of "
          "tune.methods")
    else:
      skipped.append(f"{n} ({why})")
  if skipped:
    print("not tuned, refused here: " + "; ".join(skipped), flush=True)
  if not out:
    raise errors.ConfigError(
        f"no method to tune on {c.data.name!r}: every one is refused")
  return out


def method_space(config, name: str, exp) -> dict:
  """Method `name`'s search space, its Df batch sizes cut to those the
  deletion set holds."""
  sp = space_lib.space(name, space_lib.shared(config.tune), exp.task,
                       config.method.get(name))
  key = "unlearn.df_batch_size"
  if key in sp:
    fits = tuple(b for b in sp[key].choices
                 if b <= len(exp.deletion.forget_ids))
    if not fits:
      raise errors.ConfigError(
          f"no tune.df_batch_sizes {sp[key].choices} fits the "
          f"{len(exp.deletion.forget_ids)} deleted units; add a smaller one")
    sp[key] = space_lib.Param(scale="choice", choices=fits)
  return sp


def check_space(config, name: str, sp: dict, exp) -> None:
  """Every corner of the search space `sp` (each range's ends, each
  choice) must make a valid run of method `name` on `exp`'s deletion set:
  a trial must never be refused after the models are trained."""
  for key, p in sp.items():
    for value in p.choices if p.scale == "choice" else (p.low, p.high):
      c = trial_config(config, name, {key: value})
      try:
        config_schema.validate(c)
        deletion_policy.check_fits(c, exp.deletion)
        methods.check_deletion(c, exp.deletion)
      except errors.ConfigError as e:
        raise errors.ConfigError(
            f"tuning {name!r} at {key} = {value!r} (its search space): "
            f"{e}") from None


def study_description(config, name: str, sp: dict) -> dict:
  """What method `name`'s study searches (`tuning.study.describe`): the
  space `sp` and the settings every trial shares (dotted keys: the seed
  and the run's unlearning settings, less the space's keys). A study is
  tied to it (`tuning.study.claim`)."""
  out = {"seed": config.seed}
  if config.tune.gap != "mean":  # studies from before the option: mean
    out["tune.gap"] = config.tune.gap
  stack = [("", phases.run_settings(trial_config(config, name, {})))]
  while stack:
    prefix, d = stack.pop()
    for k, v in d.items():
      if isinstance(v, dict):
        stack.append((f"{prefix}{k}.", v))
      elif f"{prefix}{k}" not in sp:
        out[f"{prefix}{k}"] = v
  return study_lib.describe(sp, out)


def trial_config(config, name: str, params: dict):
  """The run config of a trial's setting (dotted keys)."""
  c = config.copy_and_resolve_references()
  c.method.name = name
  c.update_from_flattened_dict(dict(params))
  return c


def tune(config, workdir: str, quiet: bool = False) -> dict:
  """Tunes every method of `method_names(config)`; returns and writes the
  record (module docstring)."""
  base = config.copy_and_resolve_references()
  base.method.name = _STAND_IN  # the config's own method is never run
  config_schema.validate(base)
  c = tuning_config(config)
  names = method_names(config)  # each on the task, before any compute
  with workdir_lock.scope():
    experiment_lib.lock_workdir(config, workdir)
    exp = worst_case.setup(c, os.path.join(workdir, TUNE_DIR))
    check_batches(c.tune, exp.mesh)
    spaces = {name: method_space(c, name, exp) for name in names}
    for name in names:  # on the deletion set, before training
      check_space(c, name, spaces[name], exp)
    for name in names:  # a corrupt journal, a changed space: before too
      note = study_lib.claim(study_path(exp, name), name,
                             study_description(c, name, spaces[name]))
      if note:
        print(note, flush=True)
    judges.prepare(exp)  # a text-to-image run's judges: errors before all
    original, _ = phases.train_model(exp, "original")
    retrained, _ = phases.train_model(exp, "retrain")
    evaluate_fn = exp.task.evaluator(exp.model, c)
    key = run_lib.eval_key(exp)
    refs = {}
    for name, params in (("original", original), ("retrained", retrained)):
      _, metrics = run_lib.evaluate_model(
          exp, evaluate_fn, "retrain" if name == "retrained" else name,
          params, run_lib.eval_cache(exp, name, key))
      refs[name] = objective.trial_row(metrics, exp.task)
    record = {"version": VERSION, "budget": {
        "num_trials": c.tune.num_trials, "batch_size": c.tune.batch_size},
              "validation_fraction": c.tune.validation_fraction,
              "gap": c.tune.gap, "references": refs, "methods": {}, "settings": {}}
    for name in names:
      t0 = time.perf_counter()
      out = tune_method(exp, c, name, spaces[name], original,
                        refs["retrained"], evaluate_fn, key, quiet)
      record["methods"][name] = out
      record["settings"][name] = out["chosen"]["setting"]
      print(f"tuned {name}: {out['counts']} in "
            f"{time.perf_counter() - t0:.0f} s", flush=True)
    if distributed.is_main():
      keep_earlier(os.path.join(workdir, TUNED_FILE), record)
      io_utils.atomic_write_json(os.path.join(workdir, TUNED_FILE), record)
      io_utils.atomic_write_text(os.path.join(workdir, TABLE_FILE),
                                 markdown_table(record) + "\n")
  print(markdown_table(record))
  return record


def keep_earlier(path: str, record: dict) -> None:
  """Adds to `record` the methods an earlier run tuned into `path` and this
  one did not (`tune.methods` naming a subset), when that run tuned with the
  same budget on the same validation models; otherwise the earlier file is
  kept beside as `tuned.previous.json`. No tuned method is lost."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    earlier = json.load(f)
  same = all(earlier.get(k) == record[k] for k in
             ("version", "budget", "validation_fraction", "references"))
  if not same:
    os.replace(path, os.path.join(os.path.dirname(path),
                                  "tuned.previous.json"))
    print(f"{path} was tuned with another budget or other validation "
          "models; kept as tuned.previous.json", flush=True)
    return
  for name, m in earlier.get("methods", {}).items():
    if name not in record["methods"]:
      record["methods"][name] = m
      record["settings"][name] = earlier["settings"][name]


def check_batches(tune_config, mesh) -> None:
  """Every batch (the last one too) must split evenly over the devices:
  each device runs whole trials."""
  n = mesh.shape[sharding.DATA_AXIS]
  if tune_config.batch_size % n or tune_config.num_trials % n:
    raise errors.ConfigError(
        f"tune.batch_size ({tune_config.batch_size}) and tune.num_trials "
        f"({tune_config.num_trials}) must be multiples of the {n} devices: "
        "each device runs whole trials")


def study_path(exp, name: str) -> str:
  return os.path.join(exp.workdir, "studies", f"{name}.journal")


def tune_method(exp, config, name: str, sp: dict, original,
                retrained_row: dict, evaluate_fn, key: str,
                quiet: bool) -> dict:
  """Runs method `name`'s study over the search space `sp` to
  `tune.num_trials` trials (every trial run counts); its record."""
  t = config.tune
  path = study_path(exp, name)  # claimed for `sp` (`tune`)
  seconds = 0.0
  while True:
    study = study_lib.open_study(
        path, name, seed=t.seed, startup_trials=t.startup_trials,
        batch=0)
    study_lib.fail_incomplete(study, sp)  # never run, never chosen
    batch = study_lib.running_batch(study)  # what a killed run left
    if not batch:
      done = study_lib.budget_used(study)
      if done >= t.num_trials:
        break
      index = study_lib.next_batch_index(study)
      study = study_lib.open_study(
          path, name, seed=t.seed, startup_trials=t.startup_trials,
          batch=index)
      batch = study_lib.ask_batch(study, sp, min(t.batch_size,
                                                 t.num_trials - done), index)
    t0 = time.perf_counter()
    run_batch(exp, config, name, original, retrained_row, evaluate_fn, key,
              study, batch, quiet)
    seconds += time.perf_counter() - t0
  lrs = ", ".join(f"{x:g}" for x in t.learning_rates)
  return summarise(study, seconds, sp, advice=(
      f"lower tune.learning_rates (now ({lrs})) or narrow the method's "
      "ranges, and rerun: a changed search space starts a new study (this "
      f"one is kept as {name}."
      f"{study_lib.digest(study_description(config, name, sp))}.journal)"))


def run_batch(exp, config, name, original, retrained_row, evaluate_fn,
              key, study, batch, quiet) -> None:
  """Unlearns, evaluates and tells the trials of one batch."""
  configs = [trial_config(config, name, t.params) for t in batch]
  params, info = trials_lib.unlearn_trials(exp, original, configs)
  directory = trials_lib.trials_dir(exp, configs)
  for k, trial in enumerate(batch):
    if trial.state.name != "RUNNING":  # told before the tuner was killed
      continue
    attrs = {"setting": dict(trial.params),
             "seconds": info["wall_seconds"] / len(batch)}
    if not info["finite"][k]:
      study_lib.tell(study, trial, None, {**attrs, "diverged": True})
      continue
    _, metrics = run_lib.evaluate_model(
        exp, evaluate_fn, f"{name} trial {trial.number}",
        vmapped.unstack(params, k),
        os.path.join(directory, f"eval_{k}_{key}"))
    row = objective.trial_row(metrics, exp.task)
    values = objective.values(row, retrained_row, config.tune.gap)
    if not all(math.isfinite(v) for v in values):
      study_lib.tell(study, trial, None, {**attrs, "row": row})
      continue
    study_lib.tell(study, trial, values, {**attrs, "row": row})
    if not quiet:
      print(f"{name} trial {trial.number}: gap {values[0]:.4f}, "
            f"utility {values[1]:.4f}", flush=True)


def summarise(study, seconds: float, sp: dict | None = None,
              advice: str = "lower tune.learning_rates or the method's "
              "ranges and rerun") -> dict:
  """A method's record: every trial, the Pareto front, the chosen one:
  only complete trials with a value for every parameter of `sp` (when
  given) are chosen. `seconds`: this run's wall time on the study (trials
  and evaluation; 0 when the study was already complete);
  `unlearn_seconds`: the trials' unlearning time as each recorded it,
  every trial counted once however often the study was resumed or
  re-read. `advice`: what to do when no trial completed."""
  trials = study.get_trials(deepcopy=False)
  unlearn_seconds = float(sum(t.user_attrs.get("seconds", 0.0)
                              for t in trials))
  done = [t for t in trials if t.state.name == "COMPLETE"
          and (sp is None or study_lib.defined(t, sp))]
  if not done:
    raise errors.NonFiniteLossError(
        f"every trial of {study.study_name!r} diverged or failed "
        f"({len(trials)} trials); {advice}")
  points = [tuple(t.values) for t in done]
  front = objective.pareto(points)
  best = done[objective.choose(points)]
  entry = lambda t: {"trial": t.number, "setting": dict(t.params),
                     **dict(zip(objective.OBJECTIVES, t.values)),
                     "row": t.user_attrs.get("row")}
  return {
      "chosen": entry(best),
      "pareto": [entry(done[i]) for i in front],
      "trials": [{"trial": t.number, "state": t.state.name,
                  "setting": dict(t.params),
                  "values": list(t.values) if t.values else None}
                 for t in study.get_trials(deepcopy=False)],
      "counts": study_lib.counts(study), "seconds": seconds,
      "unlearn_seconds": unlearn_seconds}


def markdown_table(record: dict) -> str:
  """References and each method's chosen trial, on validation data."""
  num = report.number
  aucs = list(record["references"]["retrained"]["auc"])
  columns = [
      report.Column("model", lambda r: r[0]),
      report.Column("chosen setting", lambda r: r[2]),
      report.Column("val", lambda r: num(r[1]["val"], ".1f")),
      report.Column("Df", lambda r: num(r[1]["df"], ".1f")),
      report.Column("Dr", lambda r: num(r[1]["dr"], ".1f")),
      *[report.Column(a.split("/")[-1] + " AUC",
                      lambda r, a=a: num(r[1]["auc"][a], ".3f"))
        for a in aucs],
      report.Column("gap", lambda r: "-" if r[3] is None else f"{r[3]:.4f}"),
      report.Column("front", lambda r: r[4]),
      report.Column("trials", lambda r: r[5]),
  ]
  retrained = record["references"]["retrained"]
  reduce = record.get("gap", "mean")  # records from before tune.gap: mean
  rows = [(n, row, "reference", objective.gap(row, retrained, reduce), "",
           "")
          for n, row in record["references"].items()]
  for name, m in record["methods"].items():
    c = m["chosen"]
    setting = report.setting_text(dict(sorted(c["setting"].items())))
    rows.append((name, c["row"], setting, c["gap"],
                 str(len(m["pareto"])),
                 ", ".join(f"{v} {k.lower()}" for k, v in
                           sorted(m["counts"].items()))))
  return "\n".join(report.render(columns, rows, markdown=True))

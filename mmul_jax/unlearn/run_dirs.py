"""Where a run's models live and what each must match: the run directories
of the original, retrained, unlearned and shadow models, and the
fingerprints a resumed or reused model is checked against."""

from __future__ import annotations

import hashlib
import json
import os

from mmul_jax import checkpoint
from mmul_jax import experiment as experiment_lib
from mmul_jax.training import events as events_lib

KINDS = ("original", "retrain")
TRAIN_INFO_FILE = "train_info.json"
UNLEARN_INFO_FILE = "unlearn_info.json"


def shadow_root(exp: experiment_lib.Experiment, seeds) -> str:
  """Where the K models of `seeds` live: one directory per seed list."""
  return os.path.join(exp.workdir, "shadow",
                      f"{len(seeds)}x-{digest([int(s) for s in seeds])}")


def model_dir(exp: experiment_lib.Experiment, kind: str,
              seeds=None) -> str:
  """The run directory of one model, or of the K models of `seeds`."""
  root = exp.workdir if seeds is None else shadow_root(exp, seeds)
  if kind == "original":
    return os.path.join(root, "original")
  if kind == "retrain":
    return os.path.join(root, "retrain", exp.deletion.tag)
  raise ValueError(f"unknown training kind {kind!r}; use one of {KINDS}")


def events_dir(exp: experiment_lib.Experiment, directory: str):
  """The TensorBoard directory of the phase in `directory`
  (`WORKDIR/tb/<phase>`), or None with `config.tensorboard` off."""
  if not exp.config.get("tensorboard", True):
    return None
  return events_lib.log_dir(exp.workdir, directory)


def as_recorded(directory: str, fingerprint: dict) -> dict:
  """`fingerprint`, made comparable with the one a model in `directory`
  recorded before data was keyed by what it is, not where it lies
  (`Experiment.data_fingerprint`): that one's data paths are taken over
  (any spelling of them is the same data) and, lacking a dataset version,
  none is asked for. Such models stay valid; a newer record is left as
  it is, and a missing or unreadable one to the checkpointer."""
  try:
    with open(os.path.join(directory, checkpoint.FINGERPRINT_FILE),
              encoding="utf-8") as f:
      stored = json.load(f)
  except (OSError, ValueError):
    return fingerprint
  if not (isinstance(stored, dict) and isinstance(stored.get("data"), dict)
          and "dataset_version" not in stored):
    return fingerprint
  out = {k: v for k, v in fingerprint.items() if k != "dataset_version"}
  out["data"] = {**fingerprint["data"],
                 **{k: stored["data"][k] for k in
                    experiment_lib.LOCATION_KEYS if k in stored["data"]}}
  return out


def train_fingerprint(exp, kind: str, seeds=None, lanes=None) -> dict:
  c = exp.config
  fp = {"kind": kind, "seed": c.seed, "model": exp.model_fingerprint(),
        "train": c.train.to_dict(), **exp.data_fingerprint()}
  if kind == "original" and c.model.original:  # given, not trained
    fp["original"] = c.model.original
    del fp["train"]
  if kind == "retrain":
    fp["deletion_sha256"] = exp.deletion.sha256
    if exp.deletion.before:  # a sequence's: trained without them too
      fp["deleted_before"] = list(exp.deletion.before)
    if lanes:  # shadow deletion sets: model k trains without its own
      fp["lane_deletions"] = [d.sha256 for d in lanes]
  if seeds is not None:
    fp["seeds"] = [int(s) for s in seeds]
  return fp


def method_settings(config) -> dict:
  name = config.method.name
  h = config.method.get(name)
  return {"name": name, name: h.to_dict() if h is not None else {}}


def digest(obj) -> str:
  """A short hash of a JSON-able object."""
  text = json.dumps(obj, sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:10]


# SOUL's keys, which change nothing without unlearn.second_order=sophia.
SOPHIA_KEYS = ("second_order", "sophia_betas", "sophia_rho",
                "sophia_batch_size")
# Evaluation during unlearning, which changes the result only when it
# chooses the returned step (`unlearn.early_stopping`).
MONITOR_KEYS = ("eval_every", "eval_units", "early_stopping", "patience")


# The text-to-image judges' keys: a cached evaluation's key holds them only
# where judges read the images (`unlearn.run.eval_key`), so the other
# tasks' evaluations cached before them stay valid.
JUDGE_KEYS = ("judges", "judge_steps")


def eval_settings(config) -> dict:
  """`config.eval`, without `extra_metrics` when there are none (so
  evaluations cached before the option stay valid) and without the
  judges' keys (`JUDGE_KEYS`)."""
  e = config.eval.to_dict()
  if not e.get("extra_metrics"):
    e.pop("extra_metrics", None)
  for key in JUDGE_KEYS:
    e.pop(key, None)
  return e


def unlearn_settings(config) -> dict:
  """`config.unlearn`, without the keys that have no effect: SophiaG's
  when it is off, the evaluation's without early stopping (so runs from
  before the options keep their directories and fingerprints)."""
  u = config.unlearn.to_dict()
  if u.get("second_order", "none") == "none":
    u = {k: v for k, v in u.items() if k not in SOPHIA_KEYS}
  if u.get("early_stopping", "none") == "none":
    u = {k: v for k, v in u.items() if k not in MONITOR_KEYS}
  return u


def run_settings(config) -> dict:
  """The unlearning settings of a run: `config.unlearn` and the selected
  method's hyperparameters (what tells one setting, or trial, from
  another)."""
  return {"unlearn": unlearn_settings(config),
          "method": method_settings(config)}


def settings_digest(config) -> str:
  """A short hash of the unlearning settings (`run_settings`)."""
  return digest(run_settings(config))


def unlearn_dir(exp: experiment_lib.Experiment, seeds=None) -> str:
  """One directory per (method, deletion set, hyperparameters), and per
  seed list for K shadow models."""
  c = exp.config
  root = exp.workdir if seeds is None else shadow_root(exp, seeds)
  return os.path.join(root, "unlearn", c.method.name,
                      exp.deletion.tag, settings_digest(c))


def unlearn_fingerprint(exp, seeds=None, lanes=None) -> dict:
  c = exp.config
  fp = {"seed": c.seed, "model": exp.model_fingerprint(),
        "train": c.train.to_dict(), "unlearn": unlearn_settings(c),
        "method": method_settings(c),
        "deletion_sha256": exp.deletion.sha256, **exp.data_fingerprint()}
  if exp.deletion.before:  # a sequence's: starts from their unlearning
    fp["deleted_before"] = list(exp.deletion.before)
  if lanes:  # shadow deletion sets: model k forgets its own
    fp["lane_deletions"] = [d.sha256 for d in lanes]
  if seeds is not None:
    fp["seeds"] = [int(s) for s in seeds]
  return fp

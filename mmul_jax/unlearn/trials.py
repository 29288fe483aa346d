"""B tuning trials of one method in one compiled program
(`unlearn_trials`): the unlearning step vmapped over a trial axis.

Trials that differ only in numbers that live in state (the learning rate,
injected into the optimiser state, and a method's `Method.in_state`
hyperparameters: loss weights, a mask threshold, noise scales) share every
function of the step, so `phases.unlearn_lanes` runs them as B lanes of
one program. They start from the same original model and read the same
batches and randomness as the config's single run, so trial b equals that
setting unlearned alone (to float rounding: tests/tuning/trials_test.py).
"""

from __future__ import annotations

import dataclasses
import os

import jax
import numpy as np

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import methods
from mmul_jax.data.core import deletion_policy
from mmul_jax.training import vmapped
from mmul_jax.unlearn import phases

LEARNING_RATE = "unlearn.learning_rate"


def batched_keys(name: str) -> set[str]:
  """The dotted config keys that may differ between the trials of one
  batch of method `name`."""
  return {LEARNING_RATE} | {f"method.{name}.{h}"
                            for h in methods.get(name).in_state}


def check_batchable(configs) -> None:
  """Raises `ConfigError` unless the configs differ only in
  `batched_keys` of one method."""
  if not configs:
    raise errors.ConfigError("a batch of trials needs at least one trial")
  name = configs[0].method.name
  allowed = batched_keys(name)
  first = config_schema.flatten(configs[0])
  for k, c in enumerate(configs[1:], 1):
    flat = config_schema.flatten(c)
    differ = sorted(key for key in first.keys() | flat.keys()
                    if first.get(key) != flat.get(key)
                    and key not in allowed)
    if differ:
      raise errors.ConfigError(
          f"trial {k} differs from trial 0 in {differ}, which change the "
          f"step's functions; one batch of {name!r} trials may differ only "
          f"in {sorted(allowed)} (tuning.batches splits the others)")


def trials_dir(exp: experiment_lib.Experiment, configs) -> str:
  """One directory per (method, deletion set, list of trial settings)."""
  return os.path.join(
      exp.workdir, "trials", configs[0].method.name, exp.deletion.tag,
      f"{len(configs)}x-"
      f"{phases.digest([phases.run_settings(c) for c in configs])}")


def finite_lanes(params) -> list[bool]:
  """Per lane of a stacked tree: whether every value is finite."""
  leaves = [np.asarray(x) for x in jax.tree.leaves(params)]
  return [bool(all(np.all(np.isfinite(x[k])) for x in leaves))
          for k in range(len(leaves[0]))]


def unlearn_trials(exp: experiment_lib.Experiment, original_params,
                   configs):
  """Unlearns `original_params` once per config, all B at once under
  `jax.vmap`; `(stacked params (B, ...), info)`, resumable like any
  unlearning run. `exp` holds the data, model and deletion set (its config
  may be any trial's: the batch's shared settings come from `configs[0]`);
  the configs differ only in `batched_keys`. A trial that diverges does
  not stop the others: `info["finite"][b]` says whether trial b's loss and
  weights stayed finite."""
  configs = [c.copy_and_resolve_references() for c in configs]
  check_batchable(configs)
  for c in configs:
    config_schema.validate(c)
  deletion_policy.check_fits(configs[0], exp.deletion)
  exp = dataclasses.replace(exp, config=configs[0])
  seed = configs[0].seed
  settings = [phases.run_settings(c) for c in configs]
  lanes = phases.Lanes(
      directory=trials_dir(exp, configs),
      fingerprint={**phases.unlearn_fingerprint(exp),
                   "trials": settings},
      streams=None,  # every trial reads the config's batches
      keys=phases.model_keys([seed] * len(configs), fold=1),
      inject_learning_rate=True, desc=f" ({len(configs)} trials)",
      record={"trials": settings},
      stop_on_nonfinite=False)
  vmapped.check_num_models(len(configs), exp.mesh)
  params, info = phases.unlearn_lanes(
      exp, [original_params] * len(configs), configs, lanes)
  finite = finite_lanes(params)
  for entry in info["history"]:
    finite = [f and bool(np.isfinite(x)) for f, x in zip(finite,
                                                         entry["loss"])]
  return params, {**info, "finite": finite}

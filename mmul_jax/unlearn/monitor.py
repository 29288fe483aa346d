"""Evaluation during unlearning, and early stopping that reads no test data.

Every `unlearn.eval_every` steps (and at the last step) the model being
unlearned is evaluated on a cheap, fixed subset: `unlearn.eval_units`
units of Df, of the evaluated Dr and, with a validation carve
(`data.validation_fraction`), of validation. The test split is never
loaded: without a carve, the evaluator's held-out slot holds the Dr subset
and its metrics are dropped. Each evaluation goes into the record
(`monitor.evaluations`) and TensorBoard (`eval/...`).

With `unlearn.early_stopping = "retrain_gap"`, each evaluation is scored
by its gap to the retrained model on the same subsets (`objective.gap`:
the mean absolute difference of the Df, Dr and validation scores and of
every Df-vs-Dr AUC the task has, the rule the tuner selects by), the run
returns the evaluated step with the smallest gap, and with
`unlearn.patience` = P > 0 it stops after P evaluations without a smaller
one. This is the checkpoint choice FIUBench's results depend on, made
without test data; the retrained model it reads is the benchmark's
reference, as in the tuner.

Resumable like the loop: the evaluations are kept in
`<run>/monitor.json`, the best step's trainable parameters as a checkpoint
in `<run>/best`; a resumed run drops the evaluations after its checkpoint
and replays them (the loop is exact), so it chooses the same step.
"""

from __future__ import annotations

import math
import os

import jax

from mmul_jax import checkpoint
from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.training import state as state_lib
from mmul_jax.tuning import objective

MONITOR_FILE = "monitor.json"
BEST_DIR = "best"
RULES = ("none", "retrain_gap")


def row_of(metrics: dict, task, with_validation: bool) -> dict:
  """`{"df", "dr"[, "val"]: score in %, "auc": {name: mean}}`."""
  scores = task.split_scores(metrics)
  row = {"df": scores["df"], "dr": scores["dr"],
         "auc": {a: metrics[f"{a}/mean"] for a in task.aucs}}
  if with_validation:
    row["val"] = scores["test"]
  return row


def _flat(row: dict) -> dict:
  """A row as TensorBoard scalars."""
  out = {k: v for k, v in row.items() if k not in ("auc", "step")}
  out.update({f"auc/{k.split('/')[-1]}": v for k, v in row["auc"].items()})
  return out


class Monitor:
  """`monitor(step, state) -> stop?` for `loop.run_steps`.

  evaluate(params) -> metrics: the task's evaluator on the monitor's sets;
  to_params(trainable) -> the model's params (LoRA merged);
  reference: the retrained model's row on the same sets (None without
  early stopping).
  """

  def __init__(self, *, directory: str, every: int, num_steps: int,
               evaluate, to_params, task, with_validation: bool,
               rule: str = "none", patience: int = 0,
               reference: dict | None = None, fingerprint: dict | None = None,
               events=None):
    if rule not in RULES:
      raise errors.ConfigError(f"unlearn.early_stopping = {rule!r} is not "
                               f"one of {list(RULES)}")
    if rule != "none" and reference is None:
      raise errors.ConfigError(
          f"unlearn.early_stopping = {rule!r} needs the retrained model; "
          "this entry point has none (use scripts/unlearn.py)")
    self.directory, self.every, self.num_steps = directory, every, num_steps
    self._evaluate, self._to_params = evaluate, to_params
    self.task, self.with_validation = task, with_validation
    self.rule, self.patience, self.reference = rule, patience, reference
    self.events = events
    self.evaluations: list[dict] = []
    self.stopped_at: int | None = None
    self._path = os.path.join(directory, MONITOR_FILE)
    self._best = (checkpoint.Checkpointer(
        os.path.join(directory, BEST_DIR), fingerprint or {},
        max_to_keep=1) if rule != "none" else None)

  # -- resuming ------------------------------------------------------------

  def resume(self, step: int) -> None:
    """Reads the evaluations up to `step` (the checkpoint resumed from)."""
    if not os.path.exists(self._path):
      return
    saved = io_utils.read_json(
        self._path, "evaluations", what="evaluation log",
        error=errors.CheckpointError,
        remedy=f"delete {self.directory} to run this unlearning again")
    self.evaluations = [e for e in saved["evaluations"] if e["step"] <= step]
    stopped = saved.get("stopped_at")
    self.stopped_at = stopped if stopped is not None and stopped <= step \
        else None

  # -- during the loop -----------------------------------------------------

  def best(self) -> dict | None:
    """The evaluation with the smallest gap (ties: the earlier step)."""
    scored = [e for e in self.evaluations
              if e.get("gap") is not None and math.isfinite(e["gap"])]
    return min(scored, key=lambda e: (e["gap"], e["step"]), default=None)

  def __call__(self, step: int, state) -> bool:
    if step % self.every and step != self.num_steps:
      return False
    params = distributed.local_copy(self._to_params(state.params))
    row = row_of(self._evaluate(params), self.task, self.with_validation)
    entry = {"step": int(step), **row}
    if self.reference is not None:
      entry["gap"] = objective.gap(row, self.reference)
    self.evaluations = [e for e in self.evaluations if e["step"] < step]
    self.evaluations.append(entry)
    if self.events is not None:
      self.events.write(step, _flat(entry), prefix="eval/")
    if self._best is not None and self.best() is entry:
      self._best.save(step, state.params)
      self._best.wait()  # the log never names a step not yet on disk
    stop = False
    if self.patience and self.rule != "none":
      since = sum(1 for e in self.evaluations
                  if e["step"] > self.best()["step"])
      stop = since >= self.patience and step < self.num_steps
    if stop:
      self.stopped_at = int(step)
    self._write()
    return stop

  def _write(self) -> None:
    if distributed.is_main():
      io_utils.atomic_write_json(self._path, self.summary())

  # -- after the loop ------------------------------------------------------

  def finished(self, step: int) -> bool:
    """Whether a run at `step` is over (stopped early there)."""
    return self.stopped_at is not None and self.stopped_at == step

  def finish(self, state):
    """The state to return: the best step's parameters with early
    stopping (read back from `best/` unless it is the current step)."""
    best = self.best() if self.rule != "none" else None
    if best is None or best["step"] == state_lib.step_of(state):
      return state
    stored = self._best.latest_step()
    if stored != best["step"]:
      raise errors.CheckpointError(
          f"{self.directory}: the evaluation log chose step {best['step']} "
          f"but {BEST_DIR}/ holds step {stored}; delete {self.directory} "
          "to run this unlearning again")
    abstract = checkpoint.abstract_like(
        state.params, jax.tree.map(lambda x: x.sharding, state.params))
    return state.replace(params=self._best.restore(abstract, stored))

  def summary(self) -> dict:
    best = self.best() if self.rule != "none" else None
    return {"every": self.every, "rule": self.rule,
            "patience": self.patience, "reference": self.reference,
            "evaluations": self.evaluations, "stopped_at": self.stopped_at,
            "chosen_step": None if best is None else best["step"]}

  def close(self) -> None:
    if self._best is not None:
      self._best.close()


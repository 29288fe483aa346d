"""Sequential deletion requests (issue 46): Df arrives as
`sequential.requests` requests, Df_1, ..., Df_R (the configured Df cut in
its draw order into R nearly equal parts). Request i is unlearned from the
model request i - 1 left (the first from the original), with only Df_i to
forget and Dr_i = D minus every request so far to retain: the earlier
requests' units are gone from the data, as a real deletion leaves them.
Its reference is the model retrained on Dr_i, the cumulative retrained
model.

After each request the unlearned, cumulative retrained and original
models are evaluated twice: on the request's own Df_i (`step`) and on
the union of the requests so far (`cumulative`), each against the
retained units Dr_i; the gap to retraining is the mean absolute
difference of the task's headline metrics (as a run's results). Every
request's models are run directories of their own (unlearning and the
retrained model resume or load like a run's; a request's fingerprint
holds the requests before it), so the sequence resumes where it stopped.
Writes sequential.json (and prints its table) in the workdir and the
last request's run directory.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import workdir_lock
from mmul_jax.data.core import deletion as deletion_lib
from mmul_jax.data.core import deletion_policy
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import report
from mmul_jax.unlearn import judges
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import run as run_lib
from mmul_jax.unlearn import worst_case

SEQUENTIAL_FILE = "sequential.json"


def requests(df: deletion_lib.DeletionSet, count: int
             ) -> list[tuple[deletion_lib.DeletionSet,
                             deletion_lib.DeletionSet]]:
  """`[(request i's deletion set, the cumulative set)]` for i = 1..count.

  Request i forgets its part of Df among the units the earlier requests
  left (`all_ids`), so its retained units are D minus every request so
  far; the cumulative set forgets their union from all of D (for
  evaluation)."""
  if not 2 <= count <= len(df.forget_ids):
    raise errors.ConfigError(
        f"sequential.requests = {count}: cut Df's {len(df.forget_ids)} "
        "units into at least 2 requests of at least one unit each")
  parts = np.array_split(np.asarray(df.forget_ids), count)
  out, gone = [], np.zeros((0,), np.int64)
  n = len(df.all_ids)
  for i, part in enumerate(parts):
    source = f"seq{i + 1}of{count}"
    step = dataclasses.replace(
        df, forget_ids=part, all_ids=np.setdiff1d(df.all_ids, gone),
        ratio=100.0 * len(part) / n, source=source, mapping=None,
        before=tuple(deletion_lib.ids_hash(p) for p in parts[:i]))
    gone = np.concatenate([gone, part])
    union = dataclasses.replace(
        df, forget_ids=gone.copy(), ratio=100.0 * len(gone) / n,
        source=f"{source}_all", mapping=None, before=())
    step.check()
    union.check()
    out.append((step, union))
  return out


def run(config, workdir: str) -> dict:
  """The whole sequence; returns (and writes) its record. The workdir is
  locked against other runs until it returns."""
  with workdir_lock.scope():
    return _run(config, workdir)


def _run(config, workdir: str) -> dict:
  exp = worst_case.setup(config, workdir)
  method = config.method.name
  if method == "retrain":
    raise errors.ConfigError(
        "a sequence of requests unlearns each from the model the last one "
        "left; method.name = retrain is the reference each is compared "
        "to: name an unlearning method")
  chain = requests(exp.deletion, config.sequential.requests)
  for step, _ in chain:  # every request's batches fit: before compute
    deletion_policy.check_fits(config, step)
    methods.check_deletion(config, step)
  judges.prepare(exp)
  original, _ = phases.train_model(exp, "original")
  evaluate_fn = exp.task.evaluator(exp.model, config)
  model, steps = original, []
  for i, (step, union) in enumerate(chain):
    exp_i = dataclasses.replace(exp, deletion=step)
    retrained, _ = phases.train_model(exp_i, "retrain")
    model, info = phases.unlearn_model(exp_i, model, reference=retrained)
    record = {"request": i + 1, "units": len(step.forget_ids),
              "cumulative_units": len(union.forget_ids),
              "seconds": info["wall_seconds"]}
    # The first request is all there is so far: its two views are one.
    views = (("step", step), ("cumulative", union)) if i else (
        ("step", step),)
    for view, d in views:
      exp_v = dataclasses.replace(exp, deletion=d)
      key = run_lib.eval_key(exp_v)
      metrics = {}
      for name, params, owner in (("original", original, exp),
                                  ("retrained", retrained, exp_i),
                                  (method, model, exp_i)):
        _, m = run_lib.evaluate_model(
            exp_v, evaluate_fn, f"{name} after request {i + 1} ({view})",
            params, run_lib.eval_cache(owner, name, key))
        metrics[name] = exp.task.headline_fractions(m)
      record[view] = metrics
      record[f"{view}_gap"] = {
          name: mubench.retrain_gaps(metrics[name],
                                     metrics["retrained"])["mean"]
          for name in ("original", method)}
    if not i:
      record["cumulative"] = record["step"]
      record["cumulative_gap"] = record["step_gap"]
    steps.append(record)
  out = {"method": method, "requests": len(chain),
         "deletion": {"tag": exp.deletion.tag,
                      "num_forget_units": len(exp.deletion.forget_ids)},
         "steps": steps}
  if distributed.is_main():
    for directory in (workdir, phases.unlearn_dir(exp_i)):
      io_utils.atomic_write_json(os.path.join(directory, SEQUENTIAL_FILE),
                                 out)
    print(table(out, exp.task))
  return out


def table(record: dict, task) -> str:
  """Per request and view: each model's headline metrics and its gap to
  the cumulative retrained model (markdown)."""
  names = [m.name for m in task.headline]
  titles = {m.name: m.title for m in task.headline}
  head = ["request", "view", "model"] + [titles[n] for n in names] + [
      "gap to retrained"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in record["steps"]:
    for view in ("step", "cumulative"):
      for model, values in r[view].items():
        gap = r[f"{view}_gap"].get(model)
        cells = [report.number(values.get(n), ".3f") for n in names]
        lines.append("| " + " | ".join(
            [str(r["request"]), view, model] + cells
            + [report.number(gap, ".3f")]) + " |")
  return "\n".join(lines + [
      "",
      "step: on the request's own Df and the units retained after it; "
      "cumulative: on every request so far. Metrics as fractions; gap: "
      "mean |Δ| of the headline metrics to the model retrained without "
      "every request so far."])

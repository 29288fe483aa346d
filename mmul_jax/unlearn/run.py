"""`run(config, workdir)`: original -> retrained -> unlearned -> evaluation."""

from __future__ import annotations

import os
import time

from mmul_jax import distributed
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import workdir_lock
from mmul_jax.evaluation import evaluate
from mmul_jax.evaluation import report
from mmul_jax.evaluation import results as results_lib
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import phases

RESULTS_FILE = "results.json"
SCORES_FILE = "scores.npz"  # beside it: every model's per-example scores



def run(config, workdir: str) -> results_lib.Results:
  """The whole demo: returns (and writes, as results.json) the results
  record. The workdir is locked against other runs until it returns."""
  with workdir_lock.scope():
    return _run(config, workdir)


def _run(config, workdir: str) -> results_lib.Results:
  t0 = time.perf_counter()
  exp = experiment_lib.setup(config, workdir)
  original, original_info = phases.train_model(exp, "original")
  retrained, retrain_info = phases.train_model(exp, "retrain")
  unlearned, unlearn_info = phases.unlearn_model(exp, original)
  c = config
  evaluate_fn = exp.task.evaluator(exp.model, c)
  key = phases.digest({"eval": c.eval.to_dict(),
                       "deletion": exp.deletion.sha256,
                       "version": evaluate.VERSION})
  evals, eval_seconds, scores = {}, {}, {}
  for name, params, cache_dir in (
      ("original", original, phases.model_dir(exp, "original")),
      ("retrained", retrained, phases.model_dir(exp, "retrain")),
      (c.method.name, unlearned, None)):
    if name == "retrain":  # the method is the retrained model itself
      evals[name] = evals["retrained"]
      scores[name] = scores["retrained"]
      continue
    # Every process evaluates alone on a local copy (outside the cache
    # test: gathering FSDP parameters needs all processes).
    params = distributed.local_copy(params)
    t_eval = time.perf_counter()
    def evaluate_one(params=params, name=name):
      out = {}
      metrics = evaluate_fn(params, exp.eval_sets, desc=f"evaluate {name}",
                            scores=out)
      return out, metrics
    if cache_dir:  # a finished, fixed model: evaluated once
      scores[name], evals[name] = score_files.cached(
          os.path.join(cache_dir, f"eval_{key}.npz"), evaluate_one,
          task=exp.task.name,
          record_path=os.path.join(cache_dir, f"eval_{key}.json"))
    else:
      scores[name], evals[name] = evaluate_one()
    eval_seconds[name] = time.perf_counter() - t_eval
  results = report.results_record(
      exp, evals, method=c.method.name,
      times={"original": original_info["wall_seconds"],
             "retrained": retrain_info["wall_seconds"],
             c.method.name: unlearn_info["wall_seconds"]},
      total_seconds=time.perf_counter() - t0, eval_seconds=eval_seconds,
      gradient_ascent=methods.get(c.method.name).gradient_ascent)
  if distributed.is_main():
    # The latest run's results, and a copy kept per method and setting.
    record = results.to_json()
    io_utils.atomic_write_json(os.path.join(workdir, RESULTS_FILE), record)
    io_utils.atomic_write_json(
        os.path.join(phases.unlearn_dir(exp), RESULTS_FILE), record)
    # Every model's per-example scores, for metrics computed later.
    for directory in (workdir, phases.unlearn_dir(exp)):
      score_files.save(os.path.join(directory, SCORES_FILE), scores,
                       task=exp.task.name)
    print(exp.task.table(results))
  return results

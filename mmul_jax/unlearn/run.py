"""`run(config, workdir)`: original -> retrained -> unlearned -> evaluation."""

from __future__ import annotations

import os
import time

from absl import logging

from mmul_jax import distributed
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import workdir_lock
from mmul_jax.evaluation import evaluate
from mmul_jax.evaluation import report
from mmul_jax.evaluation import results as results_lib
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import judges
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import worst_case

RESULTS_FILE = "results.json"
SCORES_FILE = "scores.npz"  # beside it: every model's per-example scores



def eval_key(exp) -> str:
  """What a cached evaluation depends on besides the model (and which
  judge models read a text-to-image model's images)."""
  key = {"eval": phases.eval_settings(exp.config),
         "deletion": exp.deletion.sha256, "version": evaluate.VERSION}
  judge_data = judges.datasets_of(exp)
  if judge_data:
    key["judges"] = judge_data
  return phases.digest(key)


def evaluate_model(exp, evaluate_fn, name: str, params,
                   cache: str | None = None) -> tuple[dict, dict]:
  """`(per-example scores, metrics)` of one model on `exp.eval_sets`;
  with `cache` (a path without extension), a finished, fixed model's are
  computed once and kept as `<cache>.npz` and `<cache>.json`."""
  # Every process evaluates alone on a local copy (outside the cache
  # test: gathering FSDP parameters needs all processes).
  params = distributed.local_copy(params)

  def evaluate_one():
    out = {}
    metrics = evaluate_fn(params, exp.eval_sets, desc=f"evaluate {name}",
                          scores=out)
    return out, metrics

  if cache is None:
    return evaluate_one()
  return score_files.cached(f"{cache}.npz", evaluate_one,
                            task=exp.task.name, record_path=f"{cache}.json")


def train_all(exp) -> dict:
  """The run's judges (a text-to-image run's; their errors before all),
  then its models, each trained, resumed or loaded: `{"original",
  "retrained", "unlearned"}` -> `(params, info)`."""
  judges.prepare(exp)
  original = phases.train_model(exp, "original")
  retrained = phases.train_model(exp, "retrain")
  unlearned = phases.unlearn_model(exp, original[0], reference=retrained[0])
  return {"original": original, "retrained": retrained,
          "unlearned": unlearned}


def eval_cache(exp, name: str, key: str) -> str | None:
  """Where the evaluation of the fixed model `name` ("original" or
  "retrained") under `key` is cached, without extension; None for the
  unlearned model."""
  kind = {"original": "original", "retrained": "retrain"}.get(name)
  return kind and os.path.join(phases.model_dir(exp, kind), f"eval_{key}")


def run(config, workdir: str) -> results_lib.Results:
  """The whole demo: returns (and writes, as results.json) the results
  record. The workdir is locked against other runs until it returns."""
  with workdir_lock.scope():
    return _run(config, workdir)


def _run(config, workdir: str) -> results_lib.Results:
  t0 = time.perf_counter()
  exp = worst_case.setup(config, workdir)
  caution = methods.get(config.method.name).caution
  if caution and distributed.is_main():
    logging.warning("%s: %s", config.method.name, caution)
  trained = train_all(exp)
  (original, original_info), (retrained, retrain_info), (
      unlearned, unlearn_info) = trained.values()
  c = config
  evaluate_fn = exp.task.evaluator(exp.model, c)
  key = eval_key(exp)
  evals, eval_seconds, scores = {}, {}, {}
  for name, params in (("original", original), ("retrained", retrained),
                       (c.method.name, unlearned)):
    if name == "retrain":  # the method is the retrained model itself
      evals[name] = evals["retrained"]
      scores[name] = scores["retrained"]
      continue
    t_eval = time.perf_counter()
    scores[name], evals[name] = evaluate_model(
        exp, evaluate_fn, name, params, eval_cache(exp, name, key))
    eval_seconds[name] = time.perf_counter() - t_eval
  exp.task.add_retrain_referenced(evals, scores)
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
    directories = (workdir, phases.unlearn_dir(exp))
    for directory in directories:
      write_outputs(directory, record, scores, exp.task.name)
    exp.task.write_artifacts(
        exp, {"original": original, "retrained": retrained,
              c.method.name: unlearned}, directories)
    print(exp.task.table(results))
  return results


def write_outputs(directory: str, record: dict, scores: dict,
                  task: str) -> None:
  """Writes results.json and scores.npz in `directory` as one pair: both
  whole to temporary files, then renamed into place, results.json last
  (its old version removed first; `io_utils.written_together`). A full
  disk leaves the previous pair; a results.json always describes the
  scores.npz beside it."""
  with io_utils.written_together():
    score_files.save(os.path.join(directory, SCORES_FILE), scores, task=task)
    io_utils.atomic_write_json(os.path.join(directory, RESULTS_FILE), record)

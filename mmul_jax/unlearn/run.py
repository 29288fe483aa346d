"""`run(config, workdir)`: original -> retrained -> unlearned -> evaluation."""

from __future__ import annotations

import hashlib
import json
import os
import time

import jax
import jax.numpy as jnp

from mmul_jax import checkpoint
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import optim
from mmul_jax.data import pipeline
from mmul_jax.evaluation import evaluate
from mmul_jax.evaluation import report
from mmul_jax.training import loop
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib
from mmul_jax.training import train

INFO_FILE = "unlearn_info.json"
RESULTS_FILE = "results.json"


def unlearn_dir(exp: experiment_lib.Experiment) -> str:
  """One directory per (method, deletion set, hyperparameters)."""
  c = exp.config
  settings = json.dumps({"unlearn": c.unlearn.to_dict(),
                         "method": c.method.to_dict()}, sort_keys=True)
  digest = hashlib.sha256(settings.encode()).hexdigest()[:10]
  return os.path.join(exp.workdir, "unlearn", c.method.name,
                      exp.deletion.tag, digest)


def _fingerprint(exp) -> dict:
  c = exp.config
  return {"seed": c.seed, "model": c.model.to_dict(),
          "train": c.train.to_dict(), "unlearn": c.unlearn.to_dict(),
          "method": c.method.to_dict(),
          "deletion_sha256": exp.deletion.sha256, **exp.data_fingerprint()}


def _unlearning_batches(exp, start: int):
  """Endless `{"df": ..., "dr": ...}` batches from step `start` on."""
  c = exp.config
  its = {}
  for name, ids, size, seed in (
      ("df", exp.deletion.forget_ids, c.unlearn.df_batch_size, 1000),
      ("dr", exp.deletion.retain_ids, c.unlearn.dr_batch_size, 2000)):
    stream = pipeline.training_stream(
        exp.train, ids, tok=exp.tokenizer, batch_size=size,
        seed=c.seed + seed, mean=c.data.mean, std=c.data.std)
    its[name] = pipeline.iterate(stream, start)
  while True:
    yield {k: next(it) for k, it in its.items()}


def unlearn_model(exp: experiment_lib.Experiment, original_params):
  """Runs the configured method from the original model; `(params, info)`."""
  c = exp.config
  directory = unlearn_dir(exp)
  ckpt = checkpoint.Checkpointer(directory, _fingerprint(exp))
  tx = optim.adamw(
      learning_rate=c.unlearn.learning_rate, num_steps=c.unlearn.num_steps,
      warmup_steps=c.unlearn.warmup_steps,
      weight_decay=c.unlearn.weight_decay,
      grad_clip_norm=c.unlearn.grad_clip_norm, kind=c.unlearn.schedule)
  latest = ckpt.latest_step()
  if latest is not None:
    state = ckpt.restore(train.abstract_state(exp, tx))
  else:
    # A copy: the step donates its state, the frozen original must survive.
    state = state_lib.create(jax.tree.map(jnp.copy, original_params), tx)
    state = jax.device_put(state, sharding.replicated(exp.mesh))
  info_path = os.path.join(directory, INFO_FILE)
  if int(state.step) >= c.unlearn.num_steps and os.path.exists(info_path):
    ckpt.close()
    with open(info_path) as f:
      return state.params, json.load(f)
  loss_fn = methods.build(exp.model, c.method)
  step = loop.make_step(loss_fn, tx, jax.random.fold_in(
      jax.random.key(c.seed), 1), exp.mesh, with_frozen=True)
  state, history, seconds = loop.run_steps(
      step, state, _unlearning_batches(exp, int(state.step)), mesh=exp.mesh,
      num_steps=c.unlearn.num_steps, checkpointer=ckpt,
      checkpoint_every=c.unlearn.checkpoint_every,
      log_every=c.unlearn.log_every, desc=f"unlearn with {c.method.name}",
      frozen=(original_params,))
  ckpt.close()
  info = {"method": c.method.name, "steps": c.unlearn.num_steps,
          "resumed_from": latest, "wall_seconds": seconds,
          "history": history}
  io_utils.atomic_write_json(info_path, info)
  return state.params, info


def run(config, workdir: str) -> dict:
  """The whole demo: returns (and writes) the results dictionary."""
  t0 = time.perf_counter()
  exp = experiment_lib.setup(config, workdir)
  original, original_info = train.train_model(exp, "original")
  retrained, retrain_info = train.train_model(exp, "retrain")
  unlearned, unlearn_info = unlearn_model(exp, original)
  c = config
  embedder = evaluate.Embedder(exp.model, batch_size=c.eval.batch_size,
                               mean=c.data.mean, std=c.data.std)
  kwargs = dict(ks=tuple(c.eval.recall_ks),
                auc_num_samples=c.eval.auc_num_samples,
                auc_seed=c.eval.auc_seed, rerank_k=c.eval.rerank_k)
  evals = {}
  for name, params in (("original", original), ("retrained", retrained),
                       (c.method.name, unlearned)):
    evals[name] = evaluate.evaluate(embedder, params, exp.eval_sets,
                                    desc=f"evaluate {name}", **kwargs)
  results = report.results_record(
      exp, evals, method=c.method.name,
      times={"original": original_info["wall_seconds"],
             "retrained": retrain_info["wall_seconds"],
             c.method.name: unlearn_info["wall_seconds"]},
      total_seconds=time.perf_counter() - t0)
  io_utils.atomic_write_json(os.path.join(workdir, RESULTS_FILE), results)
  print(report.table(results))
  return results

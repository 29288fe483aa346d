"""`run(config, workdir)`: original -> retrained -> unlearned -> evaluation."""

from __future__ import annotations

import hashlib
import json
import os
import time

import jax
import jax.numpy as jnp

from mmul_jax import checkpoint
from mmul_jax import distributed
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax import lora
from mmul_jax import methods
from mmul_jax import optim
from mmul_jax import workdir_lock
from mmul_jax.data import pipeline
from mmul_jax.evaluation import classification
from mmul_jax.evaluation import evaluate
from mmul_jax.evaluation import report
from mmul_jax.training import loop
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib
from mmul_jax.training import train

INFO_FILE = "unlearn_info.json"
RESULTS_FILE = "results.json"


def _method_settings(config) -> dict:
  name = config.method.name
  h = config.method.get(name)
  return {"name": name, name: h.to_dict() if h is not None else {}}


def _digest(obj) -> str:
  text = json.dumps(obj, sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:10]


def settings_digest(config) -> str:
  """A short hash of the unlearning settings: `config.unlearn` and the
  selected method's hyperparameters."""
  return _digest({"unlearn": config.unlearn.to_dict(),
                  "method": _method_settings(config)})


def unlearn_dir(exp: experiment_lib.Experiment) -> str:
  """One directory per (method, deletion set, hyperparameters)."""
  c = exp.config
  return os.path.join(exp.workdir, "unlearn", c.method.name,
                      exp.deletion.tag, settings_digest(c))


def _fingerprint(exp) -> dict:
  c = exp.config
  return {"seed": c.seed, "model": exp.model_fingerprint(),
          "train": c.train.to_dict(), "unlearn": c.unlearn.to_dict(),
          "method": _method_settings(c),
          "deletion_sha256": exp.deletion.sha256, **exp.data_fingerprint()}


_PART_IDS = {"df": ("forget_ids", "df_batch_size", 1000),
             "dr": ("retain_ids", "dr_batch_size", 2000)}


def _stream(exp, part: str):
  c = exp.config
  ids_attr, size_key, seed = _PART_IDS[part]
  return exp.training_stream(getattr(exp.deletion, ids_attr),
                             c.unlearn[size_key], c.seed + seed)


def _zip(iterators: dict):
  """Endless `{"df": ..., "dr": ...}` batches from the named iterators."""
  while True:
    yield {k: next(it) for k, it in iterators.items()}


def _context(exp, original_params) -> methods.Context:
  c = exp.config
  per_unit = exp.texts_per_unit

  def batches(part):
    for batch in pipeline.iterate(_stream(exp, part), 0):
      yield sharding.shard_batch(batch, exp.mesh)

  return methods.Context(
      model=exp.model, original=original_params, config=c,
      hparams=c.method.get(c.method.name),
      init_params=lambda seed: experiment_lib.init_params(exp, seed),
      batches=batches,
      num_pairs={"df": round(len(exp.deletion.forget_ids) * per_unit),
                 "dr": round(len(exp.deletion.retain_ids) * per_unit)})


def optimizer(config, plan: methods.Plan):
  """The plan's optimiser with `config.unlearn`'s schedule, clipping and
  weight decay, wrapped in the plan's transformations."""
  u = config.unlearn
  return optim.optimizer(
      plan.optimizer, learning_rate=u.learning_rate,
      num_steps=plan.num_steps or u.num_steps, warmup_steps=u.warmup_steps,
      weight_decay=u.weight_decay, grad_clip_norm=u.grad_clip_norm,
      kind=u.schedule, before=plan.gradient_transforms, after=plan.after)


def unlearn_model(exp: experiment_lib.Experiment, original_params):
  """Runs the configured method from the original model; `(params, info)`.

  The same loop for every method: the method's plan gives the loss, the
  frozen model(s) and the optax transformations; batches, schedule,
  checkpoints and the NaN guard are the loop's. The reported wall time
  includes the method's preparation (saliency or Fisher passes).
  """
  c = exp.config
  t0 = time.perf_counter()
  plan = methods.build(_context(exp, original_params))
  if plan.retrain:
    params, info = train.train_model(exp, "retrain")
    return params, {**info, "method": c.method.name}
  prep_seconds = time.perf_counter() - t0
  num_steps = plan.num_steps or c.unlearn.num_steps
  directory = unlearn_dir(exp)
  ckpt = checkpoint.Checkpointer(directory, _fingerprint(exp),
                                 data=plan.parts)
  tx = optimizer(c, plan)
  loss, rank = plan.loss, c.unlearn.lora_rank
  frozen = original_params if plan.frozen is None else plan.frozen
  if rank:  # train adapters only; the original is their frozen base
    loss = lora.lora_term(plan.loss, original_params,
                          alpha=c.unlearn.lora_alpha)
    frozen = (original_params, frozen)

  def initial_state():
    if rank:
      params = lora.init(original_params, rank=rank,
                         rng=jax.random.fold_in(jax.random.key(c.seed), 2))
    else:  # a copy: the step donates its state, the original must survive
      params = jax.tree.map(jnp.copy, original_params)
    return state_lib.create(params, tx, loss.init(params))

  def model_params(trained):
    return (lora.merge(original_params, trained, alpha=c.unlearn.lora_alpha)
            if rank else trained)

  state, iterators, latest = loop.resume(
      ckpt, lambda: train.abstract_state(exp, initial_state),
      {p: _stream(exp, p) for p in plan.parts})
  if state is None:
    state = train.place_state(exp, initial_state())
  info_path = os.path.join(directory, INFO_FILE)
  if int(state.step) >= num_steps and os.path.exists(info_path):
    ckpt.close()
    return model_params(state.params), io_utils.read_json(
        info_path, what="unlearning record",
        remedy="delete it and rerun the same command (the finished "
        "checkpoint is reused; the record is rewritten)")
  frozen = train.place_state(exp, frozen)  # a teacher may be host-built
  step = loop.make_step(loss, tx, jax.random.fold_in(
      jax.random.key(c.seed), 1), exp.mesh, with_frozen=True,
      state_sharding=exp.state_sharding(state),
      frozen_sharding=exp.state_sharding(frozen))
  state, history, seconds = loop.run_steps(
      step, state, _zip(iterators), mesh=exp.mesh, num_steps=num_steps,
      checkpointer=ckpt, checkpoint_every=c.unlearn.checkpoint_every,
      log_every=c.unlearn.log_every, desc=f"unlearn with {c.method.name}",
      frozen=(frozen,), data=iterators)
  ckpt.close()
  info = {"method": c.method.name, "steps": num_steps,
          "resumed_from": latest, "wall_seconds": prep_seconds + seconds,
          "prepare_seconds": prep_seconds, **plan.info, "history": history}
  if rank:
    info["trainable_fraction"] = lora.trainable_fraction(original_params,
                                                         state.params)
  if distributed.is_main():
    io_utils.atomic_write_json(info_path, info)
  return model_params(state.params), info


def _evaluate_cached(path: str | None, evaluate_fn) -> dict:
  """Evaluation of a finished, fixed model is cached beside its checkpoint."""
  if path and os.path.exists(path):
    return io_utils.read_json(
        path, what="cached evaluation",
        remedy="delete it and rerun the same command (the model is "
        "evaluated again)")
  result = evaluate_fn()
  if path and distributed.is_main():
    io_utils.atomic_write_json(path, result)
  return result


def evaluator(exp):
  """`fn(params, desc) -> metrics` on the test split, Df and Dr: retrieval
  metrics, or accuracy for classification tasks."""
  c = exp.config
  auc = dict(auc_num_samples=c.eval.auc_num_samples, auc_seed=c.eval.auc_seed)
  if exp.model.num_classes:
    classifier = classification.Classifier(
        exp.model, batch_size=c.eval.batch_size, mean=c.data.mean,
        std=c.data.std)
    return lambda params, desc: classification.evaluate(
        classifier, params, exp.eval_sets, desc=desc, **auc)
  embedder = evaluate.Embedder(exp.model, batch_size=c.eval.batch_size,
                               mean=c.data.mean, std=c.data.std,
                               layout=exp.spec)
  return lambda params, desc: evaluate.evaluate(
      embedder, params, exp.eval_sets, desc=desc,
      ks=tuple(c.eval.recall_ks), rerank_k=c.eval.rerank_k, **auc)


def run(config, workdir: str) -> dict:
  """The whole demo: returns (and writes) the results dictionary. The
  workdir is locked against other runs until it returns."""
  with workdir_lock.scope():
    return _run(config, workdir)


def _run(config, workdir: str) -> dict:
  t0 = time.perf_counter()
  exp = experiment_lib.setup(config, workdir)
  original, original_info = train.train_model(exp, "original")
  retrained, retrain_info = train.train_model(exp, "retrain")
  unlearned, unlearn_info = unlearn_model(exp, original)
  c = config
  evaluate_fn = evaluator(exp)
  key = _digest({"eval": c.eval.to_dict(), "deletion": exp.deletion.sha256,
                 "version": evaluate.VERSION})
  evals, eval_seconds = {}, {}
  for name, params, cache_dir in (
      ("original", original, train.model_dir(exp, "original")),
      ("retrained", retrained, train.model_dir(exp, "retrain")),
      (c.method.name, unlearned, None)):
    if name == "retrain":  # the method is the retrained model itself
      evals[name] = evals["retrained"]
      continue
    # Every process evaluates alone on a local copy (outside the cache
    # test: gathering FSDP parameters needs all processes).
    params = distributed.local_copy(params)
    t_eval = time.perf_counter()
    evals[name] = _evaluate_cached(
        cache_dir and os.path.join(cache_dir, f"eval_{key}.json"),
        lambda params=params, name=name: evaluate_fn(
            params, desc=f"evaluate {name}"))
    eval_seconds[name] = time.perf_counter() - t_eval
  results = report.results_record(
      exp, evals, method=c.method.name,
      times={"original": original_info["wall_seconds"],
             "retrained": retrain_info["wall_seconds"],
             c.method.name: unlearn_info["wall_seconds"]},
      total_seconds=time.perf_counter() - t0, eval_seconds=eval_seconds)
  if distributed.is_main():
    # The latest run's results, and a copy kept per method and setting.
    io_utils.atomic_write_json(os.path.join(workdir, RESULTS_FILE), results)
    io_utils.atomic_write_json(os.path.join(unlearn_dir(exp), RESULTS_FILE),
                               results)
    print(report.table(results))
  return results

"""The unlearning phase: the configured method from the original model,
through the one loop, for one model or K under `jax.vmap` (shadow models,
tuning trials), resumable (`training.phase.run_phase`)."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import jax

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import lora
from mmul_jax import methods
from mmul_jax import optim
from mmul_jax.data.core import pipeline
from mmul_jax.tasks import model_terms
from mmul_jax.training import layout as layout_lib
from mmul_jax.training import phase as phase_lib
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib
from mmul_jax.training import vmapped
from mmul_jax.unlearn import run_dirs
from mmul_jax.unlearn import train_phase

_PART_IDS = {"df": ("forget_ids", "df_batch_size", 1000),
             "dr": ("retain_ids", "dr_batch_size", 2000)}


def _stream(exp, part: str, seed: int | None = None):
  """The unlearning batches of `part` for the model of `seed` (default
  the config's)."""
  c = exp.config
  ids_attr, size_key, offset = _PART_IDS[part]
  # The deleted pairs may be restricted to question types (a modality).
  kinds = tuple(c.unlearn.forget_question_types) if part == "df" else ()
  return exp.training_stream(getattr(exp.deletion, ids_attr),
                             c.unlearn[size_key],
                             (c.seed if seed is None else seed) + offset,
                             question_types=kinds)


def _zip(iterators: dict):
  """Endless `{"df": ..., "dr": ...}` batches from the named iterators."""
  while True:
    yield {k: next(it) for k, it in iterators.items()}


def context(exp, original_params, config=None) -> methods.Context:
  """What a method builds its plan from; `config` (default the run's) sets
  the seed of a shadow model's plan."""
  c = config or exp.config
  per_unit = exp.texts_per_unit

  def batches(part):
    for batch in pipeline.iterate(_stream(exp, part, c.seed), 0):
      yield sharding.shard_batch(batch, exp.mesh)

  return methods.Context(
      task=exp.task, model=exp.model, original=original_params, config=c,
      hparams=c.method.get(c.method.name),
      init_params=lambda seed: experiment_lib.init_params(exp, seed),
      batches=batches,
      num_pairs={"df": round(len(exp.deletion.forget_ids) * per_unit),
                 "dr": round(len(exp.deletion.retain_ids) * per_unit)},
      held_out_sets=lambda: {"df": exp.eval_sets["df"],
                             "held_out": exp.eval_sets["test"]})


def optimizer(config, plan: methods.Plan,
              inject_learning_rate=False) -> optim.Optimizer:
  """The plan's optimiser with `config.unlearn`'s schedule, clipping and
  weight decay, wrapped in the plan's transformations (with the learning
  rate in its state if `inject_learning_rate`: `optim.optimizer`), and the
  learning rate by step."""
  u = config.unlearn
  name = plan.optimizer
  if u.second_order == "sophia":  # SOUL: any method's optimiser
    if name == "none":
      (problem,) = methods.base.no_second_order(config)
      raise errors.ConfigError(f"method {config.method.name!r} {problem}")
    name = "sophia"
  b1, b2 = u.sophia_betas
  return optim.optimizer(
      name, learning_rate=u.learning_rate,
      num_steps=plan.num_steps or u.num_steps, warmup_steps=u.warmup_steps,
      weight_decay=u.weight_decay, grad_clip_norm=u.grad_clip_norm,
      kind=u.schedule, before=plan.gradient_transforms, after=plan.after,
      sophia=dict(b1=b1, b2=b2, rho=u.sophia_rho,
                  batch_size=u.sophia_batch_size),
      inject_learning_rate=inject_learning_rate)


def _monitor(exp, lanes, num_steps: int, to_params):
  """Evaluation during one model's unlearning (`unlearn.monitor`)."""
  from mmul_jax.unlearn import monitor  # pylint: disable=g-import-not-at-top
  c = exp.config
  u = c.unlearn
  sets = exp.monitor_sets(u.eval_units, c.eval.auc_seed)
  evaluator = exp.task.evaluator(exp.model, c)
  evaluate = lambda params: evaluator(params, sets, desc="monitor")
  with_val = exp.validation_ids is not None
  reference = None
  if lanes.reference is not None:
    reference = monitor.row_of(
        evaluate(distributed.local_copy(lanes.reference)), exp.task,
        with_val)
  return monitor.Monitor(
      directory=lanes.directory, every=u.eval_every or num_steps,
      num_steps=num_steps, evaluate=evaluate, to_params=to_params,
      task=exp.task, with_validation=with_val, rule=u.early_stopping,
      patience=u.patience, reference=reference,
      fingerprint=lanes.fingerprint)


def _seed_config(config, seed: int):
  c = config.copy_and_resolve_references()
  c.seed = int(seed)
  return c


def unlearn_model(exp: experiment_lib.Experiment, original_params,
                  seeds=None, reference=None, lanes=None):
  """Runs the configured method from the original model; `(params, info)`.

  The same loop for every method: the method's plan gives the loss, the
  frozen models and the optax transformations; batches, schedule,
  checkpoints and the NaN guard are the loop's. What is trained (every
  weight or LoRA adapters) is `lora.trainable`'s choice. The reported wall
  time includes the method's preparation (saliency or Fisher passes).

  With `seeds`, `original_params` is the stacked tree of K originals
  (`train_model(..., seeds)`): each gets its own plan (built with its seed,
  so its mask, noise or teacher is its own), and all K unlearn at once
  under `jax.vmap`; the per-model parts of a plan live in the stacked
  optimiser state and frozen trees, so the plans share their functions.

  `reference`: the retrained model's params, which evaluation during
  unlearning (`unlearn.eval_every`, one model only) measures the gap to
  and `unlearn.early_stopping` selects by.

  `lanes` (with `seeds`: one deletion set per seed, shadow deletion sets):
  model k forgets its own set's Df and retains its Dr, its plan built on
  it.
  """
  c = exp.config
  if seeds is None:
    lanes = Lanes(directory=run_dirs.unlearn_dir(exp),
                  fingerprint=run_dirs.unlearn_fingerprint(exp),
                  streams=None, reference=reference)
    return unlearn_lanes(exp, [original_params], [c], lanes)
  configs = [_seed_config(c, s) for s in seeds]
  exps = ([dataclasses.replace(exp, deletion=d) for d in lanes] if lanes
          else [exp] * len(seeds))
  by_seed = {int(s): e for s, e in zip(seeds, exps)}
  lanes = Lanes(
      directory=run_dirs.unlearn_dir(exp, seeds),
      fingerprint=run_dirs.unlearn_fingerprint(exp, seeds, lanes),
      streams=lambda parts: {p: train_phase.stream_of(
          exp, seeds, lambda s, p=p: _stream(by_seed[int(s)], p, s))
                             for p in parts},
      keys=train_phase.model_keys(seeds, fold=1),
      desc=f" ({len(seeds)} models)",
      record={"seeds": [int(s) for s in seeds]}, seeds=tuple(seeds),
      exps=exps, deletions=lanes)
  return unlearn_lanes(exp, [vmapped.unstack(original_params, k)
                             for k in range(len(seeds))], configs, lanes)


@dataclasses.dataclass
class Lanes:
  """How one unlearning program runs several models at once.

  directory, fingerprint: the run directory and what it must match.
  streams: `streams(parts) -> {part: stream}` of stacked batches, or None
    for one plain stream per part (the config's seed), which every model
    reads (`shared_batch`).
  keys: the models' stacked base keys, or None for one model alone.
  inject_learning_rate: the learning rate lives in optimiser state (trials
    that differ in it share one step).
  seeds: the K models' seeds (a retrain "method" then trains K retrained
    models), or None.
  stop_on_nonfinite: whether a non-finite loss in any lane stops the run
    (trials: a diverging trial is recorded, the others go on).
  reference: the retrained model's params for evaluation during
    unlearning (one model only: `unlearn_model`).
  exps: one experiment per model (its own deletion set), or None for the
    run's.
  deletions: the models' own deletion sets (shadow deletion sets), or
    None.
  """

  directory: str
  fingerprint: dict
  streams: Callable | None
  keys: jax.Array | None = None
  inject_learning_rate: bool = False
  desc: str = ""
  record: dict = dataclasses.field(default_factory=dict)
  seeds: tuple | None = None
  stop_on_nonfinite: bool = True
  reference: object = None
  exps: list | None = None
  deletions: list | None = None


def unlearn_lanes(exp: experiment_lib.Experiment, originals: list,
                  configs: list, lanes: Lanes):
  """`unlearn_model`'s loop for the models of `configs` (one per original),
  vmapped when `lanes.keys` is set; `(params, info)`, the params stacked
  then."""
  c = configs[0]
  t0 = time.perf_counter()
  if lanes.keys is None:
    layout = train_phase.layout_of(exp, fold=1)
  else:
    layout = layout_lib.Stacked(exp.mesh, lanes.keys)
  lanes = dataclasses.replace(
      lanes, fingerprint=run_dirs.as_recorded(lanes.directory,
                                              lanes.fingerprint))
  plans = [methods.build(context(e, o, ck)) for e, o, ck in zip(
      lanes.exps or [exp] * len(configs), originals, configs)]
  plan = plans[0]
  if plan.retrain:
    if layout.stacked and lanes.seeds is None:  # trials of one model
      raise ValueError("retraining has no hyperparameters to batch")
    params, info = train_phase.train_model(exp, "retrain", lanes.seeds,
                                           lanes.deletions)
    return params, {**info, "method": c.method.name}
  prep_seconds = time.perf_counter() - t0
  num_steps = plan.num_steps or c.unlearn.num_steps
  optimizers = [optimizer(ck, p,
                          inject_learning_rate=lanes.inject_learning_rate)
                for ck, p in zip(configs, plans)]
  tx = optimizers[0].tx
  trained = [lora.trainable(
      p.loss, o, rank=c.unlearn.lora_rank, alpha=c.unlearn.lora_alpha,
      rng=jax.random.fold_in(jax.random.key(ck.seed), 2),
      fraction=c.unlearn.lora_fraction,
      targets=tuple(c.unlearn.lora_targets),
      full=tuple(c.unlearn.lora_full))
             for p, o, ck in zip(plans, originals, configs)]

  def initial_state():
    states = []
    for t, opt in zip(trained, optimizers):
      params = t.init()
      states.append(state_lib.create(params, opt.tx, t.loss.init(params)))
    return layout.stack(states)

  def make_step(state):
    # A teacher may be host-built: every frozen model is placed here.
    frozen = phase_lib.place(
        layout.stack([{model_terms.ORIGINAL: o, **p.frozen, **t.frozen}
                      for o, p, t in zip(originals, plans, trained)]),
        layout.sharding)
    step = layout.make_step(trained[0].loss, tx, state, frozen=frozen,
                            shared_batch=lanes.streams is None)
    return step, (frozen,)

  def model_params(params):
    return layout.stack([t.model_params(layout.unstack(params, k))
                         for k, t in enumerate(trained)])

  def record(state, latest, history, seconds):
    out = {"method": c.method.name, "steps": num_steps,
           "resumed_from": latest, "wall_seconds": prep_seconds + seconds,
           "prepare_seconds": prep_seconds, **plan.info,
           "history": history,
           **trained[0].info(layout.unstack(state.params, 0)),
           **lanes.record}
    if layout.stacked:
      out["plan_info"] = [p.info for p in plans]
    return out

  streams = (lanes.streams(plan.parts) if lanes.streams is not None else
             {p: _stream(exp, p) for p in plan.parts})
  watch = None
  if c.unlearn.eval_every or c.unlearn.early_stopping != "none":
    if layout.stacked:
      raise errors.ConfigError(
          "unlearn.eval_every and unlearn.early_stopping evaluate one "
          "model at a time; vmapped runs (tuning trials, shadow models) "
          "select by their final evaluation: set unlearn.eval_every = 0 "
          "and unlearn.early_stopping = \"none\" for them")
    watch = _monitor(exp, lanes, num_steps, trained[0].model_params)
  phase = phase_lib.Phase(
      directory=lanes.directory, fingerprint=lanes.fingerprint,
      streams=streams, batches=_zip, initial_state=initial_state,
      state_sharding=layout.sharding, make_step=make_step, record=record,
      num_steps=num_steps, checkpoint_every=c.unlearn.checkpoint_every,
      log_every=c.unlearn.log_every,
      desc=f"unlearn with {c.method.name}{lanes.desc}",
      info_file=run_dirs.UNLEARN_INFO_FILE, what="unlearning record",
      stop_on_nonfinite=lanes.stop_on_nonfinite,
      events_dir=run_dirs.events_dir(exp, lanes.directory),
      learning_rate=train_phase.lanes_rate(
          [opt.learning_rate for opt in optimizers]),
      monitor=watch)
  state, info = phase_lib.run_phase(phase, mesh=exp.mesh)
  return model_params(state.params), info

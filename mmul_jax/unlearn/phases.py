"""The three training phases of a run, each resumable
(`training.phase.run_phase`): the original model on D, the retrained
reference on Dr, and unlearning with the configured method."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Callable

import jax

from mmul_jax import checkpoint
from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import lora
from mmul_jax import methods
from mmul_jax import optim
from mmul_jax.data import pipeline
from mmul_jax.tasks import model_terms
from mmul_jax.training import events as events_lib
from mmul_jax.training import loop
from mmul_jax.training import phase as phase_lib
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib
from mmul_jax.training import vmapped

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


def _lanes_rate(schedules):
  """A phase's learning rate at a step: one number, or one per model."""
  if len(schedules) == 1:
    return lambda step: float(schedules[0](step))
  return lambda step: [float(s(step)) for s in schedules]


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


def _train_fingerprint(exp, kind: str, seeds=None) -> dict:
  c = exp.config
  fp = {"kind": kind, "seed": c.seed, "model": exp.model_fingerprint(),
        "train": c.train.to_dict(), **exp.data_fingerprint()}
  if kind == "retrain":
    fp["deletion_sha256"] = exp.deletion.sha256
  if seeds is not None:
    fp["seeds"] = [int(s) for s in seeds]
  return fp


def _stream_of(exp, seeds, build):
  """`build(None)`, or with `seeds` the stacked stream of `build(seed)`
  over this process's models."""
  if seeds is None:
    return build(None)
  return vmapped.stacked_stream(
      [build(int(seeds[k]))
       for k in vmapped.local_models(len(seeds), exp.mesh)])


def train_model(exp: experiment_lib.Experiment, kind: str, seeds=None):
  """Returns `(params, info)`; trains, resumes, or just loads if finished.

  Both kinds use the same recipe, initialisation (random, or the towers of
  `model.pretrained`) and seed; "retrain" sees only Dr, so it is the gold
  standard an unlearning method is compared to. With `seeds`, K models
  (one per seed: its initialisation and data order) train at once under
  `jax.vmap` and `params` is their stacked tree; the model of seed
  `config.seed` equals the one trained alone.
  """
  c = exp.config
  directory = model_dir(exp, kind, seeds)  # an unknown kind fails here
  tx = optim.adamw(
      learning_rate=c.train.learning_rate, num_steps=c.train.num_steps,
      warmup_steps=c.train.warmup_steps, weight_decay=c.train.weight_decay,
      grad_clip_norm=c.train.grad_clip_norm, kind="cosine",
      end_ratio=c.train.end_learning_rate_ratio)
  rate = optim.schedule(
      learning_rate=c.train.learning_rate, num_steps=c.train.num_steps,
      warmup_steps=c.train.warmup_steps, kind="cosine",
      end_ratio=c.train.end_learning_rate_ratio)
  ids = (exp.deletion.all_ids if kind == "original"
         else exp.deletion.retain_ids)

  def make_step(state):
    term = exp.task.task_term(exp.model, itm_weight=c.train.itm_weight)
    if seeds is not None:
      return vmapped.make_step(term, tx, model_keys(seeds), exp.mesh), ()
    return loop.make_step(term, tx, jax.random.key(c.seed), exp.mesh,
                          state_sharding=exp.state_sharding(state)), ()

  seed_of = lambda s: c.seed if s is None else s
  phase = phase_lib.Phase(
      directory=directory, fingerprint=as_recorded(
          directory, _train_fingerprint(exp, kind, seeds)),
      streams={"train": _stream_of(exp, seeds, lambda s: exp.training_stream(
          ids, c.train.batch_size, seed_of(s)))},
      batches=lambda iterators: iterators["train"],
      initial_state=lambda: _initial_states(
          exp, seeds, tx, experiment_lib.initial_params,
          experiment_lib.initial_params_many),
      state_sharding=_state_sharding(exp, seeds is not None),
      make_step=make_step,
      record=lambda state, latest, history, seconds: {
          "kind": kind, "num_images": int(len(ids)),
          "steps": c.train.num_steps, "resumed_from": latest,
          "wall_seconds": seconds, "history": history},
      num_steps=c.train.num_steps, checkpoint_every=c.train.checkpoint_every,
      log_every=c.train.log_every, info_file=TRAIN_INFO_FILE,
      desc=("train original on D" if kind == "original"
            else "retrain from scratch on Dr"),
      events_dir=events_dir(exp, directory),
      learning_rate=_lanes_rate([rate] * (1 if seeds is None
                                          else len(seeds))))
  # Shapes come from the random initialisation: no checkpoint is read.
  state, info = phase_lib.run_phase(
      phase, mesh=exp.mesh, abstract_init=lambda: _initial_states(
          exp, seeds, tx, experiment_lib.init_params,
          experiment_lib.init_params_many))
  return state.params, info


def _initial_states(exp, seeds, tx, one, many):
  """A fresh state from `one(exp, config seed)`, or the K states of
  `many(exp, seeds)` built in one vmapped program."""
  if seeds is None:
    return state_lib.create(one(exp, exp.config.seed), tx)
  return jax.jit(jax.vmap(lambda p: state_lib.create(p, tx)))(
      many(exp, seeds))


def model_keys(seeds, fold: int | None = None) -> jax.Array:
  """The base keys of the K models, `key(seed)` (folded with `fold`)."""
  keys = [jax.random.key(int(s)) for s in seeds]
  if fold is not None:
    keys = [jax.random.fold_in(k, fold) for k in keys]
  return jax.numpy.stack(keys)


def _state_sharding(exp, stacked: bool):
  """The layout of one model's state, or of K stacked along axis 0."""
  if not stacked:
    return exp.state_sharding
  return lambda tree: vmapped.model_sharding(tree, exp.mesh)


def method_settings(config) -> dict:
  name = config.method.name
  h = config.method.get(name)
  return {"name": name, name: h.to_dict() if h is not None else {}}


def digest(obj) -> str:
  """A short hash of a JSON-able object."""
  text = json.dumps(obj, sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:10]


# SOUL's keys, which change nothing without unlearn.second_order=sophia.
_SOPHIA_KEYS = ("second_order", "sophia_betas", "sophia_rho",
                "sophia_batch_size")
# Evaluation during unlearning, which changes the result only when it
# chooses the returned step (`unlearn.early_stopping`).
_MONITOR_KEYS = ("eval_every", "eval_units", "early_stopping", "patience")


def unlearn_settings(config) -> dict:
  """`config.unlearn`, without the keys that have no effect: SophiaG's
  when it is off, the evaluation's without early stopping (so runs from
  before the options keep their directories and fingerprints)."""
  u = config.unlearn.to_dict()
  if u.get("second_order", "none") == "none":
    u = {k: v for k, v in u.items() if k not in _SOPHIA_KEYS}
  if u.get("early_stopping", "none") == "none":
    u = {k: v for k, v in u.items() if k not in _MONITOR_KEYS}
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


def unlearn_fingerprint(exp, seeds=None) -> dict:
  c = exp.config
  fp = {"seed": c.seed, "model": exp.model_fingerprint(),
        "train": c.train.to_dict(), "unlearn": unlearn_settings(c),
        "method": method_settings(c),
        "deletion_sha256": exp.deletion.sha256, **exp.data_fingerprint()}
  if seeds is not None:
    fp["seeds"] = [int(s) for s in seeds]
  return fp


_PART_IDS = {"df": ("forget_ids", "df_batch_size", 1000),
             "dr": ("retain_ids", "dr_batch_size", 2000)}


def _stream(exp, part: str, seed: int | None = None):
  """The unlearning batches of `part` for the model of `seed` (default
  the config's)."""
  c = exp.config
  ids_attr, size_key, offset = _PART_IDS[part]
  return exp.training_stream(getattr(exp.deletion, ids_attr),
                             c.unlearn[size_key],
                             (c.seed if seed is None else seed) + offset)


def _zip(iterators: dict):
  """Endless `{"df": ..., "dr": ...}` batches from the named iterators."""
  while True:
    yield {k: next(it) for k, it in iterators.items()}


def _context(exp, original_params, config=None) -> methods.Context:
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
                 "dr": round(len(exp.deletion.retain_ids) * per_unit)})


def optimizer(config, plan: methods.Plan, inject_learning_rate=False):
  """The plan's optimiser with `config.unlearn`'s schedule, clipping and
  weight decay, wrapped in the plan's transformations (with the learning
  rate in its state if `inject_learning_rate`: `optim.optimizer`)."""
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


def _schedule(config, plan_steps):
  """The unlearning learning rate by step (`optimizer`'s schedule)."""
  u = config.unlearn
  return optim.schedule(learning_rate=u.learning_rate,
                        num_steps=plan_steps or u.num_steps,
                        warmup_steps=u.warmup_steps, kind=u.schedule)


def _seed_config(config, seed: int):
  c = config.copy_and_resolve_references()
  c.seed = int(seed)
  return c


def unlearn_model(exp: experiment_lib.Experiment, original_params,
                  seeds=None, reference=None):
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
  """
  c = exp.config
  if seeds is None:
    lanes = Lanes(directory=unlearn_dir(exp),
                  fingerprint=unlearn_fingerprint(exp), streams=None,
                  reference=reference)
    return unlearn_lanes(exp, [original_params], [c], lanes)
  configs = [_seed_config(c, s) for s in seeds]
  lanes = Lanes(
      directory=unlearn_dir(exp, seeds),
      fingerprint=unlearn_fingerprint(exp, seeds),
      streams=lambda parts: {p: _stream_of(exp, seeds, lambda s, p=p:
                                           _stream(exp, p, s))
                             for p in parts},
      keys=model_keys(seeds, fold=1), desc=f" ({len(seeds)} models)",
      record={"seeds": [int(s) for s in seeds]}, seeds=tuple(seeds))
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


def unlearn_lanes(exp: experiment_lib.Experiment, originals: list,
                  configs: list, lanes: Lanes):
  """`unlearn_model`'s loop for the models of `configs` (one per original),
  vmapped when `lanes.keys` is set; `(params, info)`, the params stacked
  then."""
  c = configs[0]
  t0 = time.perf_counter()
  one = lanes.keys is None
  lanes = dataclasses.replace(
      lanes, fingerprint=as_recorded(lanes.directory, lanes.fingerprint))
  plans = [methods.build(_context(exp, o, ck))
           for o, ck in zip(originals, configs)]
  plan = plans[0]
  if plan.retrain:
    if not one and lanes.seeds is None:
      raise ValueError("retraining has no hyperparameters to batch")
    params, info = train_model(exp, "retrain", lanes.seeds)
    return params, {**info, "method": c.method.name}
  prep_seconds = time.perf_counter() - t0
  num_steps = plan.num_steps or c.unlearn.num_steps
  txs = [optimizer(ck, p, inject_learning_rate=lanes.inject_learning_rate)
         for ck, p in zip(configs, plans)]
  tx = txs[0]
  trained = [lora.trainable(
      p.loss, o, rank=c.unlearn.lora_rank, alpha=c.unlearn.lora_alpha,
      rng=jax.random.fold_in(jax.random.key(ck.seed), 2))
             for p, o, ck in zip(plans, originals, configs)]
  sharding_of = _state_sharding(exp, not one)

  def initial_state():
    states = []
    for t, tx_k in zip(trained, txs):
      params = t.init()
      states.append(state_lib.create(params, tx_k, t.loss.init(params)))
    return states[0] if one else vmapped.stack(states)

  def make_step(state):
    # A teacher may be host-built: every frozen model is placed here.
    frozen = [{model_terms.ORIGINAL: o, **p.frozen, **t.frozen}
              for o, p, t in zip(originals, plans, trained)]
    if one:
      frozen = phase_lib.place(frozen[0], exp.state_sharding)
      step = loop.make_step(
          trained[0].loss, tx, jax.random.fold_in(jax.random.key(c.seed), 1),
          exp.mesh, with_frozen=True,
          state_sharding=exp.state_sharding(state),
          frozen_sharding=exp.state_sharding(frozen))
    else:
      frozen = phase_lib.place(vmapped.stack(frozen), sharding_of)
      step = vmapped.make_step(trained[0].loss, tx, lanes.keys, exp.mesh,
                               with_frozen=True,
                               shared_batch=lanes.streams is None)
    return step, (frozen,)

  def model_params(params):
    if one:
      return trained[0].model_params(params)
    return vmapped.stack([t.model_params(vmapped.unstack(params, k))
                          for k, t in enumerate(trained)])

  def record(state, latest, history, seconds):
    first = state.params if one else vmapped.unstack(state.params, 0)
    out = {"method": c.method.name, "steps": num_steps,
           "resumed_from": latest, "wall_seconds": prep_seconds + seconds,
           "prepare_seconds": prep_seconds, **plan.info,
           "history": history, **trained[0].info(first), **lanes.record}
    if not one:
      out["plan_info"] = [p.info for p in plans]
    return out

  streams = (lanes.streams(plan.parts) if lanes.streams is not None else
             {p: _stream(exp, p) for p in plan.parts})
  watch = None
  if c.unlearn.eval_every or c.unlearn.early_stopping != "none":
    if not one:
      raise errors.ConfigError(
          "unlearn.eval_every and unlearn.early_stopping evaluate one "
          "model at a time; vmapped runs (tuning trials, shadow models) "
          "select by their final evaluation: set unlearn.eval_every = 0 "
          "and unlearn.early_stopping = \"none\" for them")
    watch = _monitor(exp, lanes, num_steps, trained[0].model_params)
  phase = phase_lib.Phase(
      directory=lanes.directory, fingerprint=lanes.fingerprint,
      streams=streams, batches=_zip, initial_state=initial_state,
      state_sharding=sharding_of, make_step=make_step, record=record,
      num_steps=num_steps, checkpoint_every=c.unlearn.checkpoint_every,
      log_every=c.unlearn.log_every,
      desc=f"unlearn with {c.method.name}{lanes.desc}",
      info_file=UNLEARN_INFO_FILE, what="unlearning record",
      stop_on_nonfinite=lanes.stop_on_nonfinite,
      events_dir=events_dir(exp, lanes.directory),
      learning_rate=_lanes_rate([_schedule(ck, plan.num_steps)
                                 for ck in configs]),
      monitor=watch)
  state, info = phase_lib.run_phase(phase, mesh=exp.mesh)
  return model_params(state.params), info

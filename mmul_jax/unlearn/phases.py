"""The three training phases of a run, each resumable
(`training.phase.run_phase`): the original model on D, the retrained
reference on Dr, and unlearning with the configured method."""

from __future__ import annotations

import hashlib
import json
import os
import time

import jax

from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import lora
from mmul_jax import methods
from mmul_jax import optim
from mmul_jax.data import pipeline
from mmul_jax.tasks import model_terms
from mmul_jax.training import loop
from mmul_jax.training import phase as phase_lib
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib

KINDS = ("original", "retrain")
TRAIN_INFO_FILE = "train_info.json"
UNLEARN_INFO_FILE = "unlearn_info.json"


def model_dir(exp: experiment_lib.Experiment, kind: str) -> str:
  if kind == "original":
    return os.path.join(exp.workdir, "original")
  if kind == "retrain":
    return os.path.join(exp.workdir, "retrain", exp.deletion.tag)
  raise ValueError(f"unknown training kind {kind!r}; use one of {KINDS}")


def _train_fingerprint(exp, kind: str) -> dict:
  c = exp.config
  fp = {"kind": kind, "seed": c.seed, "model": exp.model_fingerprint(),
        "train": c.train.to_dict(), **exp.data_fingerprint()}
  if kind == "retrain":
    fp["deletion_sha256"] = exp.deletion.sha256
  return fp


def train_model(exp: experiment_lib.Experiment, kind: str):
  """Returns `(params, info)`; trains, resumes, or just loads if finished.

  Both kinds use the same recipe, initialisation (random, or the towers of
  `model.pretrained`) and seed; "retrain" sees only Dr, so it is the gold
  standard an unlearning method is compared to.
  """
  c = exp.config
  directory = model_dir(exp, kind)  # an unknown kind fails here
  tx = optim.adamw(
      learning_rate=c.train.learning_rate, num_steps=c.train.num_steps,
      warmup_steps=c.train.warmup_steps, weight_decay=c.train.weight_decay,
      grad_clip_norm=c.train.grad_clip_norm, kind="cosine",
      end_ratio=c.train.end_learning_rate_ratio)
  ids = (exp.deletion.all_ids if kind == "original"
         else exp.deletion.retain_ids)

  def make_step(state):
    term = exp.task.task_term(exp.model, itm_weight=c.train.itm_weight)
    return loop.make_step(term, tx, jax.random.key(c.seed), exp.mesh,
                          state_sharding=exp.state_sharding(state)), ()

  phase = phase_lib.Phase(
      directory=directory, fingerprint=_train_fingerprint(exp, kind),
      streams={"train": exp.training_stream(ids, c.train.batch_size,
                                            c.seed)},
      batches=lambda iterators: iterators["train"],
      initial_state=lambda: state_lib.create(
          experiment_lib.initial_params(exp, c.seed), tx),
      state_sharding=exp.state_sharding, make_step=make_step,
      record=lambda state, latest, history, seconds: {
          "kind": kind, "num_images": int(len(ids)),
          "steps": c.train.num_steps, "resumed_from": latest,
          "wall_seconds": seconds, "history": history},
      num_steps=c.train.num_steps, checkpoint_every=c.train.checkpoint_every,
      log_every=c.train.log_every, info_file=TRAIN_INFO_FILE,
      desc=("train original on D" if kind == "original"
            else "retrain from scratch on Dr"))
  # Shapes come from the random initialisation: no checkpoint is read.
  state, info = phase_lib.run_phase(
      phase, mesh=exp.mesh, abstract_init=lambda: state_lib.create(
          experiment_lib.init_params(exp, c.seed), tx))
  return state.params, info


def _method_settings(config) -> dict:
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


def _unlearn_settings(config) -> dict:
  """`config.unlearn`, without the keys that have no effect: SophiaG's
  when it is off (so runs from before the option keep their directories
  and fingerprints)."""
  u = config.unlearn.to_dict()
  if u.get("second_order", "none") == "none":
    u = {k: v for k, v in u.items() if k not in _SOPHIA_KEYS}
  return u


def settings_digest(config) -> str:
  """A short hash of the unlearning settings: `config.unlearn` and the
  selected method's hyperparameters."""
  return digest({"unlearn": _unlearn_settings(config),
                 "method": _method_settings(config)})


def unlearn_dir(exp: experiment_lib.Experiment) -> str:
  """One directory per (method, deletion set, hyperparameters)."""
  c = exp.config
  return os.path.join(exp.workdir, "unlearn", c.method.name,
                      exp.deletion.tag, settings_digest(c))


def _unlearn_fingerprint(exp) -> dict:
  c = exp.config
  return {"seed": c.seed, "model": exp.model_fingerprint(),
          "train": c.train.to_dict(), "unlearn": _unlearn_settings(c),
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
      task=exp.task, model=exp.model, original=original_params, config=c,
      hparams=c.method.get(c.method.name),
      init_params=lambda seed: experiment_lib.init_params(exp, seed),
      batches=batches,
      num_pairs={"df": round(len(exp.deletion.forget_ids) * per_unit),
                 "dr": round(len(exp.deletion.retain_ids) * per_unit)})


def optimizer(config, plan: methods.Plan):
  """The plan's optimiser with `config.unlearn`'s schedule, clipping and
  weight decay, wrapped in the plan's transformations."""
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
                  batch_size=u.sophia_batch_size))


def unlearn_model(exp: experiment_lib.Experiment, original_params):
  """Runs the configured method from the original model; `(params, info)`.

  The same loop for every method: the method's plan gives the loss, the
  frozen models and the optax transformations; batches, schedule,
  checkpoints and the NaN guard are the loop's. What is trained (every
  weight or LoRA adapters) is `lora.trainable`'s choice. The reported wall
  time includes the method's preparation (saliency or Fisher passes).
  """
  c = exp.config
  t0 = time.perf_counter()
  plan = methods.build(_context(exp, original_params))
  if plan.retrain:
    params, info = train_model(exp, "retrain")
    return params, {**info, "method": c.method.name}
  prep_seconds = time.perf_counter() - t0
  num_steps = plan.num_steps or c.unlearn.num_steps
  tx = optimizer(c, plan)
  trained = lora.trainable(
      plan.loss, original_params, rank=c.unlearn.lora_rank,
      alpha=c.unlearn.lora_alpha,
      rng=jax.random.fold_in(jax.random.key(c.seed), 2))

  def initial_state():
    params = trained.init()
    return state_lib.create(params, tx, trained.loss.init(params))

  def make_step(state):
    # A teacher may be host-built: every frozen model is placed here.
    frozen = phase_lib.place(
        {model_terms.ORIGINAL: original_params, **plan.frozen,
         **trained.frozen}, exp.state_sharding)
    step = loop.make_step(
        trained.loss, tx, jax.random.fold_in(jax.random.key(c.seed), 1),
        exp.mesh, with_frozen=True, state_sharding=exp.state_sharding(state),
        frozen_sharding=exp.state_sharding(frozen))
    return step, (frozen,)

  def record(state, latest, history, seconds):
    return {"method": c.method.name, "steps": num_steps,
            "resumed_from": latest, "wall_seconds": prep_seconds + seconds,
            "prepare_seconds": prep_seconds, **plan.info,
            "history": history, **trained.info(state.params)}

  phase = phase_lib.Phase(
      directory=unlearn_dir(exp), fingerprint=_unlearn_fingerprint(exp),
      streams={p: _stream(exp, p) for p in plan.parts}, batches=_zip,
      initial_state=initial_state, state_sharding=exp.state_sharding,
      make_step=make_step, record=record,
      num_steps=num_steps, checkpoint_every=c.unlearn.checkpoint_every,
      log_every=c.unlearn.log_every, desc=f"unlearn with {c.method.name}",
      info_file=UNLEARN_INFO_FILE, what="unlearning record")
  state, info = phase_lib.run_phase(phase, mesh=exp.mesh)
  return trained.model_params(state.params), info

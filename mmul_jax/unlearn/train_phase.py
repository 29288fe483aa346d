"""The training phase: the original model on D and the retrained reference
on Dr (one model, or K under `jax.vmap`), resumable
(`training.phase.run_phase`)."""

from __future__ import annotations

import jax

from mmul_jax import experiment as experiment_lib
from mmul_jax import optim
from mmul_jax.training import layout as layout_lib
from mmul_jax.training import phase as phase_lib
from mmul_jax.training import vmapped
from mmul_jax.unlearn import run_dirs


def lanes_rate(schedules):
  """A phase's learning rate at a step: one number, or one per model."""
  if len(schedules) == 1:
    return lambda step: float(schedules[0](step))
  return lambda step: [float(s(step)) for s in schedules]


def stream_of(exp, seeds, build):
  """`build(None)`, or with `seeds` the stacked stream of `build(seed)`
  over this process's models."""
  if seeds is None:
    return build(None)
  return vmapped.stacked_stream(
      [build(int(seeds[k]))
       for k in vmapped.local_models(len(seeds), exp.mesh)])


def layout_of(exp: experiment_lib.Experiment, seeds=None,
              fold: int | None = None):
  """One model of the config's seed, or the K models of `seeds`, with their
  base keys (folded with `fold`: `model_keys`)."""
  if seeds is None:
    return layout_lib.Single(exp.mesh, exp.state_sharding,
                             model_keys([exp.config.seed], fold)[0])
  return layout_lib.Stacked(exp.mesh, model_keys(seeds, fold))


def train_model(exp: experiment_lib.Experiment, kind: str, seeds=None,
                lanes=None):
  """Returns `(params, info)`; trains, resumes, or just loads if finished.

  Both kinds use the same recipe, initialisation (random, or the towers of
  `model.pretrained`) and seed; "retrain" sees only Dr, so it is the gold
  standard an unlearning method is compared to. With `model.original`,
  the original is that task-fine-tuned checkpoint as is (no step taken)
  and only the retrained reference trains, from `model.pretrained`. With
  `seeds`, K models (one per seed: its initialisation and data order)
  train at once under `jax.vmap` and `params` is their stacked tree; the
  model of seed `config.seed` equals the one trained alone. With `lanes`
  (one deletion set per seed: shadow deletion sets), retrained model k
  trains on its own set's Dr.
  """
  c = exp.config
  # MultiDelete: the original is given, fine-tuned on D elsewhere.
  given = c.model.original if kind == "original" else ""
  num_steps = 0 if given else c.train.num_steps
  # An unknown kind fails here.
  directory = run_dirs.model_dir(exp, kind, seeds)
  lanes = lanes if kind == "retrain" else None
  tx, rate = optim.adamw(
      learning_rate=c.train.learning_rate, num_steps=c.train.num_steps,
      warmup_steps=c.train.warmup_steps, weight_decay=c.train.weight_decay,
      grad_clip_norm=c.train.grad_clip_norm, kind="cosine",
      end_ratio=c.train.end_learning_rate_ratio)
  ids = (exp.deletion.all_ids if kind == "original"
         else exp.deletion.retain_ids)
  layout = layout_of(exp, seeds)
  if lanes:
    lane_ids = {int(s): d.retain_ids for s, d in zip(seeds, lanes)}
  if seeds is None:
    init, abstract_init = (
        lambda: experiment_lib.initial_params(exp, c.seed, given),
        lambda: experiment_lib.init_params(exp, c.seed))
  else:
    init, abstract_init = (
        lambda: experiment_lib.initial_params_many(exp, seeds, given),
        lambda: experiment_lib.init_params_many(exp, seeds))

  def make_step(state):
    term = exp.task.task_term(exp.model, itm_weight=c.train.itm_weight)
    return layout.make_step(term, tx, state), ()

  phase = phase_lib.Phase(
      directory=directory, fingerprint=run_dirs.as_recorded(
          directory, run_dirs.train_fingerprint(exp, kind, seeds, lanes)),
      streams={"train": stream_of(exp, seeds, lambda s: exp.training_stream(
          lane_ids[s] if lanes else ids, c.train.batch_size,
          c.seed if s is None else s))},
      batches=lambda iterators: iterators["train"],
      initial_state=lambda: layout.create_state(init(), tx),
      state_sharding=layout.sharding, make_step=make_step,
      record=lambda state, latest, history, seconds: {
          "kind": kind, "num_images": int(len(ids)),
          **({"lane_num_images": [int(len(d.retain_ids)) for d in lanes]}
             if lanes else {}),
          "steps": num_steps, "resumed_from": latest,
          "wall_seconds": seconds, "history": history,
          **({"checkpoint": given} if given else {})},
      num_steps=num_steps, checkpoint_every=c.train.checkpoint_every,
      log_every=c.train.log_every, info_file=run_dirs.TRAIN_INFO_FILE,
      desc=("the original: " + given if given else
            "train original on D" if kind == "original"
            else "retrain from scratch on Dr"),
      events_dir=run_dirs.events_dir(exp, directory),
      learning_rate=lanes_rate([rate] * (1 if seeds is None
                                         else len(seeds))))
  # Shapes come from the random initialisation: no checkpoint is read.
  state, info = phase_lib.run_phase(
      phase, mesh=exp.mesh,
      abstract_init=lambda: layout.create_state(abstract_init(), tx))
  return state.params, info


def model_keys(seeds, fold: int | None = None) -> jax.Array:
  """The base keys of the K models, `key(seed)` (folded with `fold`)."""
  keys = [jax.random.key(int(s)) for s in seeds]
  if fold is not None:
    keys = [jax.random.fold_in(k, fold) for k in keys]
  return jax.numpy.stack(keys)

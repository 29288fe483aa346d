"""Training the original model on D and the retrained reference on Dr."""

from __future__ import annotations

import os

import jax

from mmul_jax import checkpoint
from mmul_jax import distributed
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax import optim
from mmul_jax.training import loop
from mmul_jax.training import objective
from mmul_jax.training import state as state_lib

KINDS = ("original", "retrain")
INFO_FILE = "train_info.json"


def model_dir(exp: experiment_lib.Experiment, kind: str) -> str:
  if kind == "original":
    return os.path.join(exp.workdir, "original")
  if kind == "retrain":
    return os.path.join(exp.workdir, "retrain", exp.deletion.tag)
  raise ValueError(f"unknown training kind {kind!r}; use one of {KINDS}")


def _fingerprint(exp, kind: str) -> dict:
  c = exp.config
  fp = {"kind": kind, "seed": c.seed, "model": exp.model_fingerprint(),
        "train": c.train.to_dict(), **exp.data_fingerprint()}
  if kind == "retrain":
    fp["deletion_sha256"] = exp.deletion.sha256
  return fp


def abstract_state(exp, create):
  """Shapes and shardings of the state `create()` builds (no compute)."""
  shapes = jax.eval_shape(create)
  return checkpoint.abstract_like(shapes, exp.state_sharding(shapes))


def place_state(exp, state):
  """A host-built state laid out over the mesh (`config.parallel`)."""
  return jax.device_put(state, exp.state_sharding(state))


def train_model(exp: experiment_lib.Experiment, kind: str):
  """Returns `(params, info)`; trains, resumes, or just loads if finished.

  Both kinds use the same recipe, initialisation (random, or the towers of
  `model.pretrained`) and seed; "retrain" sees
  only Dr, so it is the gold standard an unlearning method is compared to.
  """
  c = exp.config
  directory = model_dir(exp, kind)
  ckpt = checkpoint.Checkpointer(directory, _fingerprint(exp, kind),
                                 data=("train",))
  tx = optim.adamw(
      learning_rate=c.train.learning_rate, num_steps=c.train.num_steps,
      warmup_steps=c.train.warmup_steps, weight_decay=c.train.weight_decay,
      grad_clip_norm=c.train.grad_clip_norm, kind="cosine",
      end_ratio=c.train.end_learning_rate_ratio)
  ids = (exp.deletion.all_ids if kind == "original"
         else exp.deletion.retain_ids)
  stream = exp.training_stream(ids, c.train.batch_size, c.seed)

  def initial_state(init=experiment_lib.initial_params):
    return state_lib.create(init(exp, c.seed), tx)

  # Shapes come from the random initialisation: no checkpoint is read.
  state, iterators, latest = loop.resume(
      ckpt, lambda: abstract_state(
          exp, lambda: initial_state(experiment_lib.init_params)),
      {"train": stream})
  if state is None:
    state = place_state(exp, initial_state())
  info_path = os.path.join(directory, INFO_FILE)
  if int(state.step) >= c.train.num_steps and os.path.exists(info_path):
    ckpt.close()
    return state.params, io_utils.read_json(
        info_path, what="training record",
        remedy="delete it and rerun the same command (the finished "
        "checkpoint is reused; the record is rewritten)")
  step = loop.make_step(objective.pretrain_term(
      exp.model, itm_weight=c.train.itm_weight), tx, jax.random.key(c.seed),
      exp.mesh, state_sharding=exp.state_sharding(state))
  label = "train original on D" if kind == "original" else \
      "retrain from scratch on Dr"
  state, history, seconds = loop.run_steps(
      step, state, iterators["train"], mesh=exp.mesh,
      num_steps=c.train.num_steps, checkpointer=ckpt,
      checkpoint_every=c.train.checkpoint_every,
      log_every=c.train.log_every, desc=label, data=iterators)
  ckpt.close()
  info = {"kind": kind, "num_images": int(len(ids)),
          "steps": c.train.num_steps, "resumed_from": latest,
          "wall_seconds": seconds, "history": history}
  if distributed.is_main():
    io_utils.atomic_write_json(info_path, info)
  return state.params, info

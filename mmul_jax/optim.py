"""Optimisers from config values: AdamW (or SGD, or SophiaG) with clipping
and a schedule."""

from __future__ import annotations

from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import optax

from mmul_jax import gradient_transforms


def decay_mask(params):
  """Weight decay on matrices only: not on biases, norms, scalars (LAVIS)."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def schedule(*, learning_rate: float, num_steps: int, warmup_steps: int,
             kind: str = "cosine",
             end_ratio: float = 0.0) -> optax.Schedule:
  warmup_steps = min(int(warmup_steps), max(num_steps - 1, 0))
  if kind == "cosine":
    return optax.warmup_cosine_decay_schedule(
        0.0 if warmup_steps else learning_rate, learning_rate, warmup_steps,
        max(num_steps, warmup_steps + 1), learning_rate * end_ratio)
  if kind == "constant":
    if not warmup_steps:
      return optax.constant_schedule(learning_rate)
    return optax.join_schedules(
        [optax.linear_schedule(0.0, learning_rate, warmup_steps),
         optax.constant_schedule(learning_rate)], [warmup_steps])
  raise ValueError(f"unknown schedule {kind!r}; use 'cosine' or 'constant'")


class Optimizer(NamedTuple):
  """An optimiser and the learning rate it applies at each step (what a
  phase logs; with `inject_learning_rate` the rate lives in `tx`'s state,
  and `learning_rate` is still the rate at the configured peak)."""

  tx: optax.GradientTransformation
  learning_rate: optax.Schedule


def adamw(*, learning_rate: float, num_steps: int, warmup_steps: int,
          weight_decay: float, grad_clip_norm: float, kind: str = "cosine",
          end_ratio: float = 0.0) -> Optimizer:
  return optimizer(
      "adamw", learning_rate=learning_rate, num_steps=num_steps,
      warmup_steps=warmup_steps, weight_decay=weight_decay,
      grad_clip_norm=grad_clip_norm, kind=kind, end_ratio=end_ratio)


def optimizer(name: str, *, learning_rate: float, num_steps: int,
              warmup_steps: int, weight_decay: float, grad_clip_norm: float,
              kind: str = "cosine", end_ratio: float = 0.0,
              before=(), after=(),
              sophia: dict | None = None,
              inject_learning_rate: bool = False) -> Optimizer:
  """clip -> `before` -> optimiser with schedule -> `after`, and the
  schedule (`Optimizer`).

  `inject_learning_rate`: the schedule's shape runs at peak 1 and the peak
  `learning_rate` is a number in the optimiser state
  (`optax.inject_hyperparams(optax.scale)`, right after the optimiser, so
  `after` sees the same updates): optimisers that differ only in learning
  rate then share their functions and can be stacked and vmapped over
  (a batch of tuning trials). Equal to the plain form to float rounding.

  `name`: "adamw" (decoupled weight decay on matrices, LAVIS's rule), "sgd"
  (no weight decay; a method adds its own), "sophia" (SophiaG, SOUL's
  second-order optimiser: `gradient_transforms.scale_by_sophia` with the
  keyword arguments `sophia`, then weight decay on matrices) or "none"
  (zero updates, for methods whose `after` transformations do all the
  work).
  """
  parts = []
  if grad_clip_norm and name != "none":
    parts.append(optax.clip_by_global_norm(grad_clip_norm))
  parts.extend(before)
  shape = dict(num_steps=num_steps, warmup_steps=warmup_steps, kind=kind,
               end_ratio=end_ratio)
  rate = schedule(learning_rate=learning_rate, **shape)  # what is applied
  # Injected: the schedule's shape at peak 1, the peak in optimiser state.
  lr = schedule(learning_rate=1.0, **shape) if inject_learning_rate else rate
  if name == "adamw":
    parts.append(optax.adamw(lr, b1=0.9, b2=0.999,
                             weight_decay=weight_decay, mask=decay_mask))
  elif name == "sgd":
    parts.append(optax.sgd(lr))
  elif name == "sophia":
    parts += [gradient_transforms.scale_by_sophia(**(sophia or {})),
              optax.add_decayed_weights(weight_decay, mask=decay_mask),
              optax.scale_by_learning_rate(lr)]
  elif name == "none":
    parts.append(optax.set_to_zero())
  else:
    raise ValueError(f"unknown optimizer {name!r}")
  if inject_learning_rate:
    parts.append(optax.inject_hyperparams(optax.scale)(
        step_size=float(learning_rate)))
  parts.extend(after)
  return Optimizer(frozen_collections_kept(optax.chain(*parts)), rate)


# Variable collections beside "params" that no optimiser moves: batch
# norm's running statistics (`models.resnet_classifier`), the checkpoint's
# throughout training and unlearning.
FROZEN_COLLECTIONS = ("batch_stats",)


def trainable(tree):
  """A variables tree (or its gradients) without its frozen collections;
  `tree` itself when it has none (every other model, LoRA adapters)."""
  if isinstance(tree, Mapping) and any(k in tree for k in FROZEN_COLLECTIONS):
    return {k: v for k, v in tree.items() if k not in FROZEN_COLLECTIONS}
  return tree


def frozen_collections_kept(
    tx: optax.GradientTransformation) -> optax.GradientTransformation:
  """`tx` on the trainable part only (`trainable`): the frozen collections
  get zero updates, so no weight decay, noise or projection reaches them,
  and `tx`'s state is what it is for a model without them."""

  def init(params):
    return tx.init(trainable(params))

  def update(updates, state, params=None):
    inner, state = tx.update(trainable(updates), state,
                             None if params is None else trainable(params))
    if trainable(updates) is updates:
      return inner, state
    return {**inner, **{k: jax.tree.map(jnp.zeros_like, updates[k])
                        for k in FROZEN_COLLECTIONS if k in updates}}, state

  return optax.GradientTransformation(init, update)

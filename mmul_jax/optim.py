"""Optimisers from config values: AdamW with clipping and a schedule."""

from __future__ import annotations

import jax
import optax


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


def adamw(*, learning_rate: float, num_steps: int, warmup_steps: int,
          weight_decay: float, grad_clip_norm: float, kind: str = "cosine",
          end_ratio: float = 0.0) -> optax.GradientTransformation:
  parts = []
  if grad_clip_norm:
    parts.append(optax.clip_by_global_norm(grad_clip_norm))
  parts.append(optax.adamw(
      schedule(learning_rate=learning_rate, num_steps=num_steps,
               warmup_steps=warmup_steps, kind=kind, end_ratio=end_ratio),
      b1=0.9, b2=0.999, weight_decay=weight_decay, mask=decay_mask))
  return optax.chain(*parts)

"""Deterministic DDIM sampling (Song et al. 2021, eta = 0) over a fixed
number of evenly spaced timesteps, with classifier-free guidance (Ho &
Salimans 2022): each step runs the conditional and the null-context rows
in one batch and moves along `eps_uncond + w (eps_cond - eps_uncond)`.
One `jax.lax.scan`, jitted once per shape: the same seed gives the same
images."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.diffusion import schedule as schedule_lib


def timesteps(num_train_steps: int, num_sample_steps: int) -> np.ndarray:
  """The sampler's timesteps, from the noisiest down to 0."""
  return np.linspace(num_train_steps - 1, 0, num_sample_steps).round(
  ).astype(np.int32)


def cond_and_null(model, params, x_t, t, text):
  """The model's predictions `(cond, null)` at `x_t`, timesteps `t`
  `(B,)`: for the captions `text` and for the null context, in one batch
  (what guidance mixes)."""
  b = x_t.shape[0]
  out = model.apply(params, jnp.concatenate([x_t, x_t]),
                    jnp.concatenate([t, t]), jnp.concatenate([text, text]),
                    jnp.concatenate([jnp.zeros((b,), bool),
                                     jnp.ones((b,), bool)]))
  return out[:b], out[b:]


@functools.partial(jax.jit, static_argnames=(
    "model", "schedule", "num_steps", "image_size", "clip"))
def ddim_sample(model, params, text, rng, *, schedule: schedule_lib.Schedule,
                num_steps: int, image_size: int, guidance: float = 1.0,
                clip: bool = True):
  """Images `(B, S, S, 3)` for captions `text` `(B, L)`, from the noise of
  `rng`; `guidance` 1 reads the caption alone, 0 the null context alone.
  `clip` keeps each predicted clean image within [-1, 1]."""
  b = text.shape[0]
  ts = jnp.asarray(timesteps(schedule.num_steps, num_steps))
  prev = jnp.concatenate([ts[1:], jnp.asarray([-1], jnp.int32)])
  alpha_bar = jnp.asarray(schedule.alpha_bar)

  def step(x, tt):
    t, t_prev = tt
    tb = jnp.full((b,), t, jnp.int32)
    cond, null = cond_and_null(model, params, x, tb, text)
    out = null + guidance * (cond - null)
    x0, eps = schedule.split(x, tb, out)
    if clip:
      x0 = jnp.clip(x0, -1.0, 1.0)
      a = alpha_bar[t]
      eps = (x - jnp.sqrt(a) * x0) / jnp.sqrt(1.0 - a)
    a_prev = jnp.where(t_prev >= 0, alpha_bar[jnp.maximum(t_prev, 0)], 1.0)
    return jnp.sqrt(a_prev) * x0 + jnp.sqrt(1.0 - a_prev) * eps, None

  x = jax.random.normal(rng, (b, image_size, image_size, 3), jnp.float32)
  x, _ = jax.lax.scan(step, x, (ts, prev))
  return x

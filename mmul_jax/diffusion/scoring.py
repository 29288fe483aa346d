"""Per-example denoising losses at fixed timesteps and fixed noise: the
membership score of a text-to-image model (a member's loss is lower), the
same for an example however the evaluation batches it, since each
example's noise is drawn from its own index."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.diffusion import schedule as schedule_lib

# The timesteps the score averages, as fractions of the schedule (Carlini
# et al. 2023's loss-threshold attack reads the middle of the range).
TIMESTEP_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


def score_timesteps(schedule: schedule_lib.Schedule,
                    fractions=TIMESTEP_FRACTIONS) -> tuple[int, ...]:
  return tuple(int(round(f * (schedule.num_steps - 1))) for f in fractions)


@functools.partial(jax.jit, static_argnames=("model", "schedule",
                                             "timesteps"))
def _losses(model, params, images, text, index, seed, *, schedule,
            timesteps):
  def noise_of(i, k):
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), i), k)
    return jax.random.normal(key, images.shape[1:], jnp.float32)

  predict = lambda x_t, tt: model.apply(params, x_t, tt, text,
                                        jnp.zeros(tt.shape, bool))

  def at(kt):  # one timestep's losses: one UNet traced, not one per step
    k, t = kt
    noise = jax.vmap(noise_of, in_axes=(0, None))(index, k)
    tb = jnp.full((images.shape[0],), t, jnp.int32)
    return schedule_lib.denoising_loss(schedule, predict, images, tb, noise)

  ks = jnp.arange(len(timesteps))
  return jax.lax.map(at, (ks, jnp.asarray(timesteps, jnp.int32))).T


def example_losses(model, params, images: np.ndarray, text: np.ndarray, *,
                   schedule: schedule_lib.Schedule, seed: int = 0,
                   batch_size: int = 64,
                   timesteps: tuple[int, ...] | None = None) -> np.ndarray:
  """`(N, len(timesteps))` denoising losses of pairs `(images[i], text[i])`
  (images normalised to [-1, 1]), example i's noise at timestep k drawn
  from `(seed, i, k)`; `timesteps` default `score_timesteps`."""
  ts = timesteps or score_timesteps(schedule)
  n = len(images)
  rows = []
  for start in range(0, n, batch_size):
    stop = min(start + batch_size, n)
    idx = np.arange(start, stop)
    pad = batch_size - len(idx) if n > batch_size else 0
    take = np.concatenate([idx, np.full(pad, idx[-1])]) if pad else idx
    got = _losses(model, params, jnp.asarray(images[take]),
                  jnp.asarray(text[take]), jnp.asarray(take, jnp.int32),
                  seed, schedule=schedule, timesteps=ts)
    rows.append(np.asarray(got)[:len(idx)])
  return np.concatenate(rows) if rows else np.zeros((0, len(ts)),
                                                    np.float32)

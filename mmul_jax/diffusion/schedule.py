"""DDPM's forward process: a noise schedule over `num_steps` timesteps
(Ho et al. 2020's linear betas, or Nichol & Dhariwal 2021's cosine
alpha-bar), noising `x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps` with `a_t`
the cumulative product of `1 - beta`, and the training target: the noise
(`"epsilon"`) or the velocity `v = sqrt(a_t) eps - sqrt(1 - a_t) x_0`
(`"v"`, Salimans & Ho 2022), with the conversions back to the predicted
clean image and noise that sampling needs.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("epsilon", "v")


@dataclasses.dataclass(frozen=True)
class Schedule:
  """A noise schedule (hashable: a jitted sampler takes it as static).
  linear: betas from `beta_start` to `beta_end`; cosine: a_t = f(t + 1) /
  f(0), f(t) = cos²((t / T + s) / (1 + s) π / 2) with s = 0.008 and each
  beta capped at 0.999 (improved DDPM's). `prediction`: what the model
  predicts."""

  kind: str = "cosine"
  num_steps: int = 1000
  prediction: str = "epsilon"
  beta_start: float = 1e-4
  beta_end: float = 0.02

  def __post_init__(self):
    if self.kind not in SCHEDULES:
      raise ValueError(f"noise schedule {self.kind!r}: one of {SCHEDULES}")
    if self.prediction not in PREDICTIONS:
      raise ValueError(f"prediction {self.prediction!r}: one of "
                       f"{PREDICTIONS}")

  @property
  def alpha_bar(self) -> np.ndarray:
    """a_t for t = 0 .. T-1, float32."""
    n = self.num_steps
    if self.kind == "linear":
      betas = np.linspace(self.beta_start, self.beta_end, n,
                          dtype=np.float64)
    else:
      s = 0.008
      f = lambda t: np.cos((t / n + s) / (1 + s) * np.pi / 2) ** 2
      steps = np.arange(n + 1, dtype=np.float64)
      betas = np.minimum(1.0 - f(steps[1:]) / f(steps[:-1]), 0.999)
    return np.cumprod(1.0 - betas).astype(np.float32)

  def _coefs(self, t, ndim):
    a = jnp.asarray(self.alpha_bar)[t].reshape((-1,) + (1,) * (ndim - 1))
    return jnp.sqrt(a), jnp.sqrt(1.0 - a)

  def noisy(self, x0, t, noise):
    """`x_t` for clean images `x0` at timesteps `t` `(B,)`."""
    s, r = self._coefs(t, x0.ndim)
    return s * x0 + r * noise

  def target(self, x0, t, noise):
    """What the model is trained to predict at `x_t`."""
    if self.prediction == "epsilon":
      return noise
    s, r = self._coefs(t, x0.ndim)
    return s * noise - r * x0

  def split(self, x_t, t, out):
    """`(x0, eps)` predicted from the model's output `out` at `x_t`."""
    s, r = self._coefs(t, x_t.ndim)
    if self.prediction == "epsilon":
      return (x_t - r * out) / s, out
    return s * x_t - r * out, r * x_t + s * out


def denoising_loss(schedule: Schedule, predict, x0, t, noise):
  """Per-example mean squared error `(B,)` between `predict(x_t, t)` and
  the schedule's target."""
  out = predict(schedule.noisy(x0, t, noise), t)
  err = (out - schedule.target(x0, t, noise)) ** 2
  return jnp.mean(err.reshape(err.shape[0], -1), axis=-1)


def sample_timesteps(rng: jax.Array, batch: int, num_steps: int):
  return jax.random.randint(rng, (batch,), 0, num_steps)

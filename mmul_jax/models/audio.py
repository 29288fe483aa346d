"""A log-mel spectrogram front end in JAX, so keyword spotting's input
pipeline ships raw waveforms and the spectrogram is computed on the
accelerator, inside the jitted step (AST's input: log-mel frames as an
image for the ViT tower)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def hz_to_mel(f):
  """The HTK mel scale."""
  return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
  return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filterbank(num_mels: int, n_fft: int, sample_rate: int,
                   fmin: float = 20.0) -> np.ndarray:
  """`(n_fft // 2 + 1, num_mels)` triangular filters, equally spaced on
  the mel scale from `fmin` to Nyquist, each peaking at 1."""
  freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
  edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(sample_rate / 2),
                                num_mels + 2))
  lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
  rising = (freqs[:, None] - lower) / (centre - lower)
  falling = (upper - freqs[:, None]) / (upper - centre)
  return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def num_frames(num_samples: int, window: int, hop: int) -> int:
  """Frames of a `num_samples` waveform (no padding; at least one)."""
  return 1 + max(0, num_samples - window) // hop


def log_mel(waveform: jax.Array, *, sample_rate: int, window: int,
            hop: int, num_mels: int) -> jax.Array:
  """`(B, N)` float waveforms in [-1, 1] -> `(B, frames, num_mels)`
  log-mel power, `log(mel + 1e-6)`, with a Hann window of `window`
  samples every `hop` samples (the FFT size is the window's)."""
  n = waveform.shape[-1]
  if n < window:
    raise ValueError(f"waveforms of {n} samples are shorter than the "
                     f"{window}-sample window")
  frames = num_frames(n, window, hop)
  index = np.arange(frames)[:, None] * hop + np.arange(window)[None, :]
  hann = np.hanning(window + 1)[:-1].astype(np.float32)  # periodic
  x = waveform.astype(jnp.float32)[:, index] * hann
  power = jnp.abs(jnp.fft.rfft(x, axis=-1)) ** 2
  fb = mel_filterbank(num_mels, window, sample_rate)
  return jnp.log(power @ fb + 1e-6)

"""A PNG grid of generated images: one row per model (original,
retrained, unlearned), one column per prompt, the same prompts and seeds
in every row, so what each model draws for a deleted prompt sits beside
what the others draw for it."""

from __future__ import annotations

import textwrap

import numpy as np

from mmul_jax import io_utils


def to_uint8(images: np.ndarray) -> np.ndarray:
  """Images in [-1, 1] (a sampler's) to uint8, clipped."""
  x = (np.asarray(images, np.float32) + 1.0) * 127.5
  return np.clip(np.round(x), 0, 255).astype(np.uint8)


def mosaic(rows: list[np.ndarray], gap: int = 2) -> np.ndarray:
  """`rows` (each `(K, S, S, 3)` uint8, the same K and S) tiled into one
  uint8 image with `gap` white pixels between tiles."""
  k, s = rows[0].shape[0], rows[0].shape[1]
  height = len(rows) * s + (len(rows) - 1) * gap
  width = k * s + (k - 1) * gap
  out = np.full((height, width, 3), 255, np.uint8)
  for r, images in enumerate(rows):
    if images.shape != rows[0].shape:
      raise ValueError(f"row {r} has shape {images.shape}, the first "
                       f"{rows[0].shape}")
    for c in range(k):
      y, x = r * (s + gap), c * (s + gap)
      out[y:y + s, x:x + s] = images[c]
  return out


def save(path: str, rows: dict[str, np.ndarray], prompts: list[str], *,
         title: str = "") -> str:
  """Writes the grid to `path` (atomically): `rows` maps each model's name
  to its images `(K, S, S, 3)` in [-1, 1] for the K `prompts`, labelled
  with the names on the left and the prompts above."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  names = list(rows)
  k = len(prompts)
  fig, axes = plt.subplots(len(names), k, squeeze=False,
                           figsize=(1.6 * k + 1.2, 1.6 * len(names) + 0.8))
  for r, name in enumerate(names):
    images = to_uint8(rows[name])
    for c in range(k):
      ax = axes[r, c]
      ax.imshow(images[c], interpolation="nearest")
      ax.set_xticks([])
      ax.set_yticks([])
      if c == 0:
        ax.set_ylabel(name, fontsize=8)
      if r == 0:
        ax.set_title(textwrap.fill(prompts[c], 24), fontsize=5)
  if title:
    fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  io_utils.atomic_write(path, lambda f: fig.savefig(f, format="png",
                                                    dpi=100), binary=True)
  plt.close(fig)
  return path

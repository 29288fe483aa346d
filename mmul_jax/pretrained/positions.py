"""Position embeddings of a ViT checkpoint made for another image size,
resized to the model's patch grid by bicubic interpolation exactly as
torch's `F.interpolate(..., mode="bicubic", align_corners=False)` computes
it (ALBEF's and BLIP's `interpolate_pos_embed`), without torch."""

from __future__ import annotations

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
  """torch's bicubic kernel (A = -0.75) at distances `x`."""
  a, x = -0.75, np.abs(x)
  return np.where(x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                  np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a,
                           0.0))


def _bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
  """`(n_out, n_in)` weights of torch's 1-D bicubic interpolation
  (align_corners=False, borders clamped)."""
  w = np.zeros((n_out, n_in))
  for i in range(n_out):
    src = (i + 0.5) * n_in / n_out - 0.5
    base = int(np.floor(src))
    for k in range(base - 1, base + 3):
      w[i, min(max(k, 0), n_in - 1)] += _cubic(src - k)
  return w


def resize(pos: np.ndarray, grid: int) -> np.ndarray:
  """`(1, 1 + g*g, C)` position embeddings ([CLS] first) resized to a
  `grid` x `grid` patch grid, as ALBEF's and BLIP's
  `interpolate_pos_embed`."""
  g = round((pos.shape[1] - 1) ** 0.5)
  if g == grid:
    return pos
  m = _bicubic_matrix(g, grid)
  patches = pos[0, 1:].reshape(g, g, -1).astype(np.float64)
  out = np.einsum("yh,xw,hwc->yxc", m, m, patches).reshape(grid * grid, -1)
  return np.concatenate([pos[0, :1], out.astype(pos.dtype)])[None]

"""Image-text retrieval recall@K, both directions."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def t2i_hits(sim: np.ndarray, caption_owner: np.ndarray) -> np.ndarray:
  """Per caption: is its own image the top-1 (ties count against it)?"""
  sim = np.asarray(sim, np.float64)
  owner = np.asarray(caption_owner)
  true_score = sim[owner, np.arange(sim.shape[1])]
  return (sim >= true_score[None, :]).sum(axis=0) == 1


def sub_gallery(caption_owner: np.ndarray, images: np.ndarray):
  """`(caption indices, their owners renumbered into images)` for the
  captions of the image subset `images` (indices)."""
  owner = np.asarray(caption_owner)
  pos = np.full(owner.max() + 1 if len(owner) else 0, -1)
  pos[np.asarray(images)] = np.arange(len(images))
  captions = np.flatnonzero(pos[owner] >= 0)
  return captions, pos[owner[captions]]


def recall_at_k(sim: np.ndarray, caption_owner: np.ndarray,
                ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
  """Recall@K in percent from an `(N_images, N_captions)` score matrix.

  Image-to-text (`i2t_r{k}`): an image is a hit if any of its own captions
  ranks in its top k. Text-to-image (`t2i_r{k}`): a caption is a hit if its
  image ranks in its top k. `r{k}_mean` averages the two directions. Ties
  are broken against the correct answer (its rank counts every equal score).

  Args:
    sim: `(N_images, N_captions)` scores, higher meaning a better match.
    caption_owner: `(N_captions,)` the row (image index) each caption
      belongs to.
    ks: the cut-offs K.

  Returns:
    A dict with `i2t_r{k}`, `t2i_r{k}` and `r{k}_mean` for every k in
    `ks`: floats in percent.

  Raises:
    ValueError: `caption_owner` does not have one entry per column of
      `sim`.
  """
  sim = np.asarray(sim, np.float64)
  owner = np.asarray(caption_owner)
  n_img, n_txt = sim.shape
  if owner.shape != (n_txt,):
    raise ValueError("caption_owner needs one entry per caption column")
  own = owner[None, :] == np.arange(n_img)[:, None]  # (N_img, N_txt)
  # i2t: rank of the best own caption = #captions scoring >= it, minus 1.
  best_own = np.where(own, sim, -np.inf).max(axis=1)
  i2t_rank = (np.where(own, -np.inf, sim) >= best_own[:, None]).sum(axis=1)
  # t2i: rank of the caption's image among all images.
  true_score = sim[owner, np.arange(n_txt)]
  t2i_rank = (sim >= true_score[None, :]).sum(axis=0) - 1
  out = {}
  for k in ks:
    out[f"i2t_r{k}"] = 100.0 * float(np.mean(i2t_rank < k))
    out[f"t2i_r{k}"] = 100.0 * float(np.mean(t2i_rank < k))
    out[f"r{k}_mean"] = 0.5 * (out[f"i2t_r{k}"] + out[f"t2i_r{k}"])
  return out

"""Evaluation of one model on the test split, Df and Dr."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from mmul_jax.data import pipeline
from mmul_jax.evaluation import deletion_auc
from mmul_jax.evaluation import retrieval


class Embedder:
  """Jitted unimodal encoders at a fixed batch size (compiled once)."""

  def __init__(self, model, *, batch_size: int, mean, std):
    self.batch_size = batch_size
    self.mean, self.std = mean, std
    self._image = jax.jit(lambda p, x: model.apply(
        p, x, method=model.encode_image)["image_embed"])
    self._text = jax.jit(lambda p, t: model.apply(
        p, t, method=model.encode_text)["text_embed"])

  def _run(self, fn, params, x: np.ndarray, prep) -> np.ndarray:
    b = self.batch_size
    out = []
    for i in range(0, len(x), b):
      chunk = x[i:i + b]
      pad = b - len(chunk)
      if pad:  # keep one shape so nothing recompiles
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, 0)])
      out.append(np.asarray(fn(params, prep(chunk)))[:b - pad])
    return np.concatenate(out)

  def images(self, params, images: np.ndarray) -> np.ndarray:
    prep = lambda x: pipeline.normalize_images(x, self.mean, self.std)
    return self._run(self._image, params, images, prep)

  def texts(self, params, text: np.ndarray) -> np.ndarray:
    return self._run(self._text, params, text, lambda t: t)


def pair_scores(image_embed: np.ndarray, text_embed: np.ndarray,
                caption_owner: np.ndarray) -> np.ndarray:
  """Cosine of each caption with its own image, `(N_captions,)`."""
  return np.sum(image_embed[caption_owner] * text_embed, axis=-1)


def evaluate(embedder: Embedder, params, sets: dict[str, pipeline.PairSet],
             *, ks: Sequence[int], auc_num_samples: int,
             auc_seed: int, desc: str = "evaluate") -> dict:
  """Recall@K on every set (gallery = that set's images) and the Df/Dr AUC.

  `sets` must hold "test", "df" and "dr".
  """
  results, scores = {}, {}
  for name, s in tqdm(sets.items(), desc=desc, unit="set", leave=False):
    img = embedder.images(params, s.images)
    txt = embedder.texts(params, s.text)
    results[name] = retrieval.recall_at_k(img @ txt.T, s.caption_owner, ks)
    scores[name] = pair_scores(img, txt, s.caption_owner)
    results[name]["mean_pair_cosine"] = float(np.mean(scores[name]))
  results["df_vs_dr_auc"] = deletion_auc.df_vs_dr_auc(
      scores["df"], scores["dr"], num_samples=auc_num_samples,
      seed=auc_seed)
  return results

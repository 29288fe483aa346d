"""Evaluation of one model on the test split, Df and Dr."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import evaluators

# Part of the key of cached evaluations: bump it when what an evaluation
# computes or how it names it changes, so no stale cached result is read.
# 3: flat metric names (`evaluation.results`).
VERSION = 3


def batched(fn, arrays: tuple, batch_size: int):
  """Applies `fn` over the leading axis of `arrays` (arrays or pytrees of
  them, e.g. graph batches) in fixed-size (padded) chunks, so it compiles
  once; returns the concatenated numpy outputs (a pytree)."""
  n = pipeline.num_rows(arrays)
  outs = []
  for i in range(0, n, batch_size):
    chunk = jax.tree.map(lambda a: a[i:i + batch_size], arrays)
    pad = batch_size - min(batch_size, n - i)
    if pad:
      chunk = jax.tree.map(
          lambda c: np.concatenate([c, np.repeat(c[-1:], pad, 0)]), chunk)
    out = jax.device_get(fn(*chunk))
    outs.append(jax.tree.map(lambda x: x[:batch_size - pad], out))
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)


class Embedder:
  """Jitted encoders and matching head at a fixed batch size."""

  def __init__(self, model, *, batch_size: int, mean, std,
               layout: pipeline.RecordLayout = pipeline.RETRIEVAL):
    self.batch_size = batch_size
    self._prep = lambda x: layout.model_input(x, mean, std)
    self._image = jax.jit(lambda p, x: model.apply(
        p, x, method=model.encode_image))
    self._text = jax.jit(lambda p, t: model.apply(
        p, t, method=model.encode_text))

    def match(p, img_tok, img_mask, txt_tok, txt_mask):
      fused = model.apply(p, img_tok, txt_tok, txt_mask, img_mask,
                          method=model.fuse)
      logits = fused["itm_logits"]
      return {"logit": logits[:, 1], "prob": jax.nn.softmax(logits)[:, 1],
              "margin": logits[:, 1] - logits[:, 0],
              "cls": fused["fusion_cls"]}

    self._match = jax.jit(match)

  def images(self, params, images) -> dict[str, np.ndarray]:
    return batched(lambda x: self._image(params, self._prep(x)), (images,),
                   self.batch_size)

  def texts(self, params, text: np.ndarray) -> dict[str, np.ndarray]:
    return batched(lambda t: self._text(params, t), (text,),
                    self.batch_size)

  def match(self, params, img: dict, i_idx, txt: dict, t_idx):
    """Matching logit, probability, margin and fusion [CLS] of the pairs (image `i_idx`,
    text `t_idx`) of encoded images `img` and texts `txt`."""
    return batched(lambda *a: self._match(params, *a),
                   (img["image_tokens"][i_idx], img["image_mask"][i_idx],
                    txt["text_tokens"][t_idx], txt["text_mask"][t_idx]),
                   self.batch_size)


def pair_scores(image_embed: np.ndarray, text_embed: np.ndarray,
                caption_owner: np.ndarray) -> np.ndarray:
  """Cosine of each caption with its own image, `(N_captions,)`."""
  return np.sum(image_embed[caption_owner] * text_embed, axis=-1)


# The metric families of a dual encoder's evaluation (`evaluators`).
METRICS = ("recall", "deletion_auc", "mubench")


def forward(embedder: Embedder, params, sets: dict[str, pipeline.PairSet],
            *, options: evaluators.Options, desc: str = "evaluate",
            scores: dict | None = None) -> evaluators.Forward:
  """A dual encoder's passes over `sets`: each set's image and text
  encodings, their similarities and the aligned pairs' matching outputs;
  the pair scores are the ITC cosine and the matching probability."""
  outputs, cos, itm = {}, {}, {}
  for name, s in tqdm(sets.items(), desc=desc, unit="set", leave=False):
    img = embedder.images(params, s.images)
    txt = embedder.texts(params, s.text)
    match = embedder.match(params, img, s.caption_owner, txt,
                           np.arange(len(s.caption_owner)))
    outputs[name] = {"img": img, "txt": txt, "match": match,
                     "sim": img["image_embed"] @ txt["text_embed"].T}
    cos[name] = pair_scores(img["image_embed"], txt["text_embed"],
                            s.caption_owner)
    itm[name] = match["prob"]
  return evaluators.Forward(
      kind="retrieval", sets=sets, outputs=outputs,
      pair_scores={"cosine": cos, "match": itm}, params=params,
      model=embedder, options=options, scores=scores)


def evaluate(embedder: Embedder, params, sets: dict[str, pipeline.PairSet],
             *, ks: Sequence[int], auc_num_samples: int, auc_seed: int,
             rerank_k: int = 0, desc: str = "evaluate",
             scores: dict | None = None,
             metrics: Sequence[str] = METRICS) -> dict:
  """The metric families `metrics` (default: recall@K on every set, the
  gallery that set's images; the Df-vs-Dr AUC by the ITC cosine, the
  headline, and by the matching probability; MU-Bench's metrics) of a dual
  encoder, by flat name (`evaluation.results`).

  `sets` must hold "test", "df" and "dr". With `rerank_k > 0` recall is
  also reported after re-ranking the top k by the matching head. With
  `scores` (a dict), each set's per-example scores
  (`example_scores.retrieval_set`) are put there, from the same encodings.
  """
  options = evaluators.Options(tuple(ks), rerank_k, auc_num_samples,
                               auc_seed)
  return evaluators.run(metrics, forward(embedder, params, sets,
                                         options=options, desc=desc,
                                         scores=scores))

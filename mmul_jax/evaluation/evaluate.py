"""Evaluation of one model on the test split, Df and Dr."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from mmul_jax.data import pipeline
from mmul_jax.evaluation import deletion_auc
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import results as results_lib
from mmul_jax.evaluation import retrieval

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


def rerank_with_matching(embedder: Embedder, params, sim: np.ndarray, img,
                         txt, k: int) -> tuple[np.ndarray, np.ndarray]:
  """ALBEF/BLIP retrieval scores: ITC top-k re-scored by ITM logit + ITC.

  Returns `(i2t_scores, t2i_scores)`, each shaped like `sim`, with -100
  outside each query's top k (the reference's convention); rank the rows of
  the first and the columns of the second.
  """
  out = []
  for scores in (sim, sim.T):  # image queries, then caption queries
    k_eff = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k_eff]
    q = np.repeat(np.arange(scores.shape[0]), k_eff)
    c = top.ravel()
    i_idx, t_idx = (q, c) if len(out) == 0 else (c, q)
    m = embedder.match(params, img, i_idx, txt, t_idx)
    new = np.full(scores.shape, -100.0)
    new[q, c] = m["logit"] + scores[q, c]
    out.append(new)
  return out[0], out[1].T


def mubench_retrieval(pairs: dict, *, logit_scale: float, num_samples: int,
                      seed: int, metric_samples: int = 500) -> dict:
  """MU-Bench's metrics for image-text retrieval (reference spec §3.2).

  `pairs[name]` holds `image_embed`, `text_embed`, `caption_owner`, the
  image-caption similarities `sim` and the per-pair `features` of the
  "test", "df" and "dr" sets. Per-caption
  correctness is a text-to-image top-1 hit. Df captions search the Df
  images; Dr captions search `num_samples` disjoint random sets of |Df| Dr
  images (seeded), so both galleries have the same size and the knowledge
  gap measures memorisation, not gallery size. ZRF scores the Df captions'
  softmax over the Df images at the model's temperature. The membership
  attack uses per-pair features, Dr members against test non-members.
  """
  df, dr = pairs["df"], pairs["dr"]
  n = len(df["image_embed"])
  correct_df = retrieval.t2i_hits(df["sim"], df["caption_owner"])
  pick = np.random.default_rng(seed).permutation(len(dr["image_embed"]))
  correct_dr = []
  for i in range(num_samples):
    images = pick[i * n:(i + 1) * n]
    caps, owner = retrieval.sub_gallery(dr["caption_owner"], images)
    correct_dr.append(retrieval.t2i_hits(
        dr["image_embed"][images] @ dr["text_embed"][caps].T, owner))
  correct_dr = np.concatenate(correct_dr)
  df_logits = logit_scale * df["sim"].T
  mia = mubench.membership_inference(
      dr["features"], pairs["test"]["features"], df["features"], seed=seed)
  return {
      "df_t2i_acc": float(correct_df.mean()),
      "dr_t2i_acc_same_gallery": float(correct_dr.mean()),
      "knowledge_gap": mubench.knowledge_gap(
          correct_dr, correct_df, num_samples=metric_samples, seed=seed),
      "knowledge_gap_closed_form": mubench.knowledge_gap_closed_form(
          correct_dr.mean(), correct_df.mean()),
      "zrf": mubench.zrf(df_logits, num_samples=metric_samples, seed=seed),
      "df_chance": 1.0 / n,
      "mia": mia,
  }


def evaluate(embedder: Embedder, params, sets: dict[str, pipeline.PairSet],
             *, ks: Sequence[int], auc_num_samples: int, auc_seed: int,
             rerank_k: int = 0, desc: str = "evaluate",
             scores: dict | None = None) -> dict:
  """Recall@K on every set (gallery = that set's images), the Df/Dr AUC
  and MU-Bench's metrics (`mubench_retrieval`), by flat name
  (`evaluation.results`).

  `sets` must hold "test", "df" and "dr". Per set: `<set>/itc/...` recall
  (cosine ranking); with `rerank_k > 0` also `<set>/itm/...` (top-k
  re-ranked by the matching head, the reference's test metric). The AUC is
  computed with two pair scores: the ITC cosine (`auc/cosine`, the
  headline) and the matching probability (`auc/match`). With `scores` (a
  dict), each set's per-example scores (`example_scores.retrieval_set`)
  are put there, from the same encodings.
  """
  results, cos, itm, pairs = {}, {}, {}, {}
  for name, s in tqdm(sets.items(), desc=desc, unit="set", leave=False):
    img = embedder.images(params, s.images)
    txt = embedder.texts(params, s.text)
    sim = img["image_embed"] @ txt["text_embed"].T
    res = {"itc": retrieval.recall_at_k(sim, s.caption_owner, ks)}
    if rerank_k:
      i2t, t2i = rerank_with_matching(embedder, params, sim, img, txt,
                                      rerank_k)
      a = retrieval.recall_at_k(i2t, s.caption_owner, ks)
      b = retrieval.recall_at_k(t2i, s.caption_owner, ks)
      res["itm"] = {}
      for kk in ks:
        res["itm"][f"i2t_r{kk}"] = a[f"i2t_r{kk}"]
        res["itm"][f"t2i_r{kk}"] = b[f"t2i_r{kk}"]
        res["itm"][f"r{kk}_mean"] = 0.5 * (a[f"i2t_r{kk}"] + b[f"t2i_r{kk}"])
    cos[name] = pair_scores(img["image_embed"], txt["text_embed"],
                            s.caption_owner)
    match = embedder.match(params, img, s.caption_owner, txt,
                           np.arange(len(s.caption_owner)))
    itm[name] = match["prob"]
    if scores is not None:
      scores[name] = example_scores.retrieval_set(img, txt, match,
                                                  s.caption_owner)
    pairs[name] = {"image_embed": img["image_embed"],
                   "text_embed": txt["text_embed"],
                   "caption_owner": s.caption_owner, "sim": sim,
                   "features": np.stack([cos[name], match["margin"]], 1)}
    res["mean_pair_cosine"] = float(np.mean(cos[name]))
    res["mean_pair_match_prob"] = float(np.mean(itm[name]))
    results[name] = res
  auc = dict(num_samples=auc_num_samples, seed=auc_seed)
  results["auc"] = {
      "cosine": deletion_auc.df_vs_dr_auc(cos["df"], cos["dr"], **auc),
      "match": deletion_auc.df_vs_dr_auc(itm["df"], itm["dr"], **auc)}
  scale = float(np.exp(np.asarray(params["params"]["logit_scale"])))
  results["mubench"] = mubench_retrieval(pairs, logit_scale=scale, **auc)
  return results_lib.flatten(results)

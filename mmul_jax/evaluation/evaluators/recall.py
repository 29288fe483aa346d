"""Retrieval recall@K on every set, its gallery that set's units: by the
ITC cosine (`<set>/itc/...`) and, with `eval.rerank_k` > 0, after
re-ranking the top k by the matching head (`<set>/itm/...`, the
reference's test metric)."""

from __future__ import annotations

import numpy as np

from mmul_jax.evaluation import retrieval

KINDS = ("retrieval",)


def metrics(run) -> dict:
  ks = tuple(run.options.recall_ks)
  out = {}
  for name, s in run.sets.items():
    o = run.outputs[name]
    res = {"itc": retrieval.recall_at_k(o["sim"], s.caption_owner, ks)}
    if run.options.rerank_k:
      i2t, t2i = rerank_with_matching(
          run.model, run.params, o["sim"], o["img"], o["txt"],
          run.options.rerank_k)
      a = retrieval.recall_at_k(i2t, s.caption_owner, ks)
      b = retrieval.recall_at_k(t2i, s.caption_owner, ks)
      res["itm"] = {}
      for k in ks:
        res["itm"][f"i2t_r{k}"] = a[f"i2t_r{k}"]
        res["itm"][f"t2i_r{k}"] = b[f"t2i_r{k}"]
        res["itm"][f"r{k}_mean"] = 0.5 * (a[f"i2t_r{k}"] + b[f"t2i_r{k}"])
    out[name] = res
  return out


def rerank_with_matching(embedder, params, sim: np.ndarray, img,
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

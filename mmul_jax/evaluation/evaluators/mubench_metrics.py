"""MU-Bench's metrics (`mubench/...`): Df and Dr accuracy, the knowledge
gap, ZRF and the membership attack (reference spec §3), for retrieval
(text-to-image hits, galleries of |Df| units) and classification."""

from __future__ import annotations

import numpy as np

from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import retrieval

KINDS = ("retrieval", "classification")


def metrics(run) -> dict:
  seed = run.options.auc_seed
  if run.kind == "retrieval":
    pairs = {}
    for name, s in run.sets.items():
      o = run.outputs[name]
      pairs[name] = {
          "image_embed": o["img"]["image_embed"],
          "text_embed": o["txt"]["text_embed"],
          "caption_owner": s.caption_owner, "sim": o["sim"],
          "features": np.stack([run.pair_scores["cosine"][name],
                                o["match"]["margin"]], 1)}
    scale = float(np.exp(np.asarray(run.params["params"]["logit_scale"])))
    return {"mubench": mubench_retrieval(
        pairs, logit_scale=scale, num_samples=run.options.auc_num_samples,
        seed=seed)}
  o = run.outputs
  correct = {name: o[name]["correct"] for name in run.sets}
  features = {name: np.stack([o[name]["log_p_true"], o[name]["entropy"]],
                             1) for name in run.sets}
  return {"mubench": {
      "df_acc": float(correct["df"].mean()),
      "dr_acc": float(correct["dr"].mean()),
      "knowledge_gap": mubench.knowledge_gap(
          correct["dr"], correct["df"], seed=seed),
      "knowledge_gap_closed_form": mubench.knowledge_gap_closed_form(
          correct["dr"].mean(), correct["df"].mean()),
      "zrf": mubench.zrf(o["df"]["logits"], seed=seed),
      "df_chance": 1.0 / o["df"]["logits"].shape[-1],
      "mia": mubench.membership_inference(
          features["dr"], features["test"], features["df"], seed=seed),
  }}


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

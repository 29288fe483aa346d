"""Loss functions, importable into any JAX training step.

Every function is pure, keyword-only in its hyperparameters, and returns
per-example values `(B,)`; take the mean for the batch loss.

MMUL (Cheng & Amiri):
  modality_decoupling(sim, target_sim)
      L_MD_i = mean_j (S_ij - S'_ij)² + mean_j (S_ji - S'_ji)²
  unimodal_retention(embeds, frozen_embeds)
      L_UKR_i = Σ_m mean_d (e_m,i,d - e⁰_m,i,d)²
  multimodal_retention(fused, frozen_fused)
      L_MKR_i = mean_d (h_i,d - h⁰_i,d)²
  derangement(rng, ids) -> (perm, valid): unrelated-pair partners.

Training objectives:
  clip_contrastive(image_embed, text_embed, *, logit_scale, ids, axis_name)
  sample_hard_negatives(rng, sim, positives)
  itm_cross_entropy(pos_logits, neg_text_logits, neg_image_logits)
"""

from mmul_jax.losses._contrastive import clip_contrastive
from mmul_jax.losses._contrastive import itm_cross_entropy
from mmul_jax.losses._contrastive import positive_mask
from mmul_jax.losses._contrastive import sample_hard_negatives
from mmul_jax.losses._mmul import derangement
from mmul_jax.losses._mmul import modality_decoupling
from mmul_jax.losses._mmul import multimodal_retention
from mmul_jax.losses._mmul import unimodal_retention

__all__ = [
    "clip_contrastive",
    "derangement",
    "itm_cross_entropy",
    "modality_decoupling",
    "multimodal_retention",
    "positive_mask",
    "sample_hard_negatives",
    "unimodal_retention",
]

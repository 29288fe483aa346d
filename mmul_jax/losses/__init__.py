"""Loss functions and an optax-style algebra of loss terms.

Loss functions are pure, keyword-only in their hyperparameters, and return
per-example values `(B,)`; take the mean for the batch loss. Those that
compare against other batch items take `axis_name` and then see the global
batch under `shard_map` / `pmap` (negatives from every device).

MMUL (Cheng & Amiri), S = V Tᵀ in-batch cosines, S' = V⁰ T'ᵀ of the original
model on unrelated captions T':
  modality_decoupling(image, text, target_image, target_text, *, axis_name)
      L_MD_i = mean_j (S_ij - S'_ij)² + mean_j (S_ji - S'_ji)²
  unimodal_retention(embeds, frozen_embeds)
      L_UKR_i = Σ_m mean_d (e_m,i,d - e⁰_m,i,d)²
  multimodal_retention(fused, frozen_fused)
      L_MKR_i = mean_d (h_i,d - h⁰_i,d)²
  fused_modality_decoupling(fused, target_fused)
      classification tasks: L_MD_i = mean_d (h_i,d - h'_i,d)², h' the
      original's fusion [CLS] with an unrelated sentence
  answer_decoupling(logits, target_logits)
      mmul_plus: L_i = KL(softmax(z'_i) ‖ softmax(z_i)), z' the original's
      head output (matching or class logits) with an unrelated text
  derangement(rng, ids) -> (perm, valid): unrelated-pair partners.

Distillation (Bad Teaching, SCRUB, DELETE), p = softmax(z / τ):
  kl_divergence(teacher_logits, student_logits, *, temperature)
      KL_i = τ² Σ_c p_T,ic (log p_T,ic - log p_S,ic)
  decoupled_distillation(teacher_logits, student_logits, target_mask, *,
                         temperature, mask_value)
      KL_i with the teacher's true-class logits lowered by |mask_value|
  l1_norm(params) = Σ |θ|  (a scalar)

Against a reference model (NPO), CE_i = −log Σ_{true c} softmax(z_i)_c:
  true_answer_nll(logits, target_mask) = CE_i
  npo(student_logits, reference_logits, target_mask, *, beta)
      L_i = −(2/β) log σ(β (CE_θ,i − CE_ref,i))

Language models, over answer tokens (logits (B, T, V), labels, mask):
  token_logprobs(logits, labels); sequence_nll(logits, labels, mask, *,
      reduction)  NLL summed or averaged over the answer's tokens
  sequence_npo(nll, reference_nll, *, beta)
      −(2/β) log σ(β (NLL_θ − NLL_ref)) on summed NLLs
  dpo(win_nll, win_reference_nll, lose_nll, lose_reference_nll, *, beta)
      −(2/β) log σ(β ((NLL_ref − NLL)_win − (NLL_ref − NLL)_lose))
  simnpo(mean_nll, *, beta, delta)  −(2/β) log σ(β (NLL/|y| − δ))
  token_kl(student_logits, reference_logits, mask)  mean KL(p_ref ‖ p_θ)
  hidden_mse(hidden, target, mask); rmu_forget(hidden, mask, direction, *,
      coefficient)  RMU's misdirection to c·u

Training objectives:
  clip_contrastive(image_embed, text_embed, *, logit_scale, ids, axis_name)
      ½ [CE(s V_i Tᵀ, P_i) + CE(s T_i Vᵀ, P_i)], P_i uniform over same-id
  sample_hard_negatives(rng, sim, positives)
  itm_cross_entropy(pos_logits, neg_text_logits, neg_image_logits)

Loss terms (`init(params) -> state`,
`apply(state, params, frozen, batch, *, rng) -> (loss, aux, state)`; typed
as `TermInit` / `TermApply`):
  LossTerm, loss_term(fn), weighted_sum(terms, *, weights), negate(term),
  map_batch(term, fn), restrict(term, part), on_forget(term),
  on_retain(term), precompute(term, fn), with_frozen(term, key),
  alternate(terms, *, select)
"""

from mmul_jax.losses._contrastive import clip_contrastive
from mmul_jax.losses._contrastive import itm_cross_entropy
from mmul_jax.losses._contrastive import positive_mask
from mmul_jax.losses._contrastive import sample_hard_negatives
from mmul_jax.losses._curriculum import SuperLossState
from mmul_jax.losses._curriculum import lambert_w0
from mmul_jax.losses._curriculum import superloss
from mmul_jax.losses._curriculum import superloss_confidence
from mmul_jax.losses._distill import decoupled_distillation
from mmul_jax.losses._distill import kl_divergence
from mmul_jax.losses._distill import l1_norm
from mmul_jax.losses._mmul import answer_decoupling
from mmul_jax.losses._mmul import derangement
from mmul_jax.losses._mmul import fused_modality_decoupling
from mmul_jax.losses._mmul import modality_decoupling
from mmul_jax.losses._mmul import multimodal_retention
from mmul_jax.losses._mmul import unimodal_retention
from mmul_jax.losses._preference import npo
from mmul_jax.losses._preference import true_answer_nll
from mmul_jax.losses._sequence import dpo
from mmul_jax.losses._sequence import hidden_mse
from mmul_jax.losses._sequence import rmu_forget
from mmul_jax.losses._sequence import sequence_nll
from mmul_jax.losses._sequence import sequence_npo
from mmul_jax.losses._sequence import simnpo
from mmul_jax.losses._sequence import token_kl
from mmul_jax.losses._sequence import token_logprobs
from mmul_jax.losses._terms import AlternateState
from mmul_jax.losses._terms import LossTerm
from mmul_jax.losses._terms import TermApply
from mmul_jax.losses._terms import TermInit
from mmul_jax.losses._terms import WeightedSumState
from mmul_jax.losses._terms import alternate
from mmul_jax.losses._terms import loss_term
from mmul_jax.losses._terms import map_batch
from mmul_jax.losses._terms import negate
from mmul_jax.losses._terms import on_forget
from mmul_jax.losses._terms import on_retain
from mmul_jax.losses._terms import precompute
from mmul_jax.losses._terms import restrict
from mmul_jax.losses._terms import weighted_sum
from mmul_jax.losses._terms import with_frozen

__all__ = [
    "AlternateState",
    "LossTerm",
    "SuperLossState",
    "TermApply",
    "TermInit",
    "WeightedSumState",
    "alternate",
    "answer_decoupling",
    "clip_contrastive",
    "decoupled_distillation",
    "derangement",
    "dpo",
    "fused_modality_decoupling",
    "hidden_mse",
    "itm_cross_entropy",
    "kl_divergence",
    "l1_norm",
    "lambert_w0",
    "loss_term",
    "map_batch",
    "modality_decoupling",
    "multimodal_retention",
    "negate",
    "npo",
    "on_forget",
    "on_retain",
    "positive_mask",
    "precompute",
    "restrict",
    "rmu_forget",
    "sample_hard_negatives",
    "sequence_nll",
    "sequence_npo",
    "simnpo",
    "superloss",
    "superloss_confidence",
    "token_kl",
    "token_logprobs",
    "true_answer_nll",
    "unimodal_retention",
    "weighted_sum",
    "with_frozen",
]

"""MMUL's three properties for an image-conditioned language model
(`mmul_gen`; Cheng & Amiri's decoupling and retention carried from
embeddings to answer distributions), as loss terms over question-answer
batches (`tasks.image_generation`):

* modality decoupling (`md`, on Df): each deleted row's context (its
  image and prompt) is swapped for another deleted person's (a
  derangement over units: never the same person), and the answer
  distribution the model gives the deleted row's own context is pulled
  towards what the original gives the unrelated context, token by token
  over the deleted answer: KL(p_θ₀(· | unrelated) ‖ p_θ(· | deleted)).
  A deleted pair then reads as an unrelated one, as MMUL makes a
  deleted image-caption pair score like an unrelated pair. The target is
  teacher-forced on the deleted answer, so where that answer repeats the
  person's name, the original's later tokens still condition on it: the
  decoupling is complete only for what precedes the name.
* unimodal retention, vision (`vision`, on Df, as MMUL's is): the vision
  tower's tokens for the deleted portraits stay the original's (mean
  squared difference): forgetting a person is not forgetting how to see.
* unimodal retention, text (`text`, on Dr): the answer distributions of
  retained text-only questions stay the original's (token KL).
* multimodal retention (`mkr`, on Dr): the answer distributions of
  retained questions with an image stay the original's (token KL).

Each term is a weighted mean over the rows it concerns (a batch with
none of them gives 0).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.methods import terms as method_terms
from mmul_jax.tasks import model_terms

# The context a deleted row's decoupling target swaps for another row's.
CONTEXT = ("prompt", "prompt_mask", "image", "image_mask")


class GenerativeTerms(NamedTuple):
  """`md` over a `{"df", "dr"}` batch (it reads Df); `vision`, `text` and
  `mkr` over a flat batch (`mmul_gen` puts `vision` on Df, the others on
  Dr)."""

  md: losses.LossTerm
  vision: losses.LossTerm
  text: losses.LossTerm
  mkr: losses.LossTerm


def _weighted_mean(values, weights):
  w = weights.astype(jnp.float32)
  return jnp.sum(values * w) / jnp.maximum(jnp.sum(w), 1.0)


def terms(task, model) -> GenerativeTerms:
  """The four terms for `task`'s model (its layout's answer logits)."""
  lm = task.layout

  def answer_logits(params, batch, rng=None):
    inputs = lm.inputs(batch)
    if rng is None:
      logits = model_terms.frozen(model, params, None, *inputs)
    else:
      logits = model_terms.student(model, params, None, *inputs, rng=rng)
    return lm.answer_logits(logits, batch)

  def token_kl(teacher, student, batch):
    return method_terms.token_mean(
        losses.kl_divergence(teacher, student), batch["answer_mask"])

  def md(params, frozen, batch, *, rng):
    df = batch["df"]
    k_perm, k_run = jax.random.split(rng)
    perm, valid = losses.derangement(k_perm, df["image_id"])
    unrelated = {**df, **{k: df[k][perm] for k in CONTEXT}}
    target = answer_logits(frozen[model_terms.ORIGINAL], unrelated)
    values = token_kl(target, answer_logits(params, df, k_run), df)
    return values * valid, {"md": jnp.mean(values),
                            "derangement_valid": valid.astype(jnp.float32)}

  def vision(params, frozen, batch, *, rng):
    del rng  # no dropout in the vision tower
    run = lambda p: model.apply(p, batch["image"], method=model.encode_image)
    diff = run(params) - jax.lax.stop_gradient(
        run(frozen[model_terms.ORIGINAL]))
    per_row = jnp.mean(jnp.square(diff.astype(jnp.float32)), axis=(1, 2))
    value = _weighted_mean(per_row, batch["image_mask"])
    return value, {"vision_mse": value}

  def retention(rows, name):
    def term(params, frozen, batch, *, rng):
      values = token_kl(answer_logits(frozen[model_terms.ORIGINAL], batch),
                        answer_logits(params, batch, rng), batch)
      value = _weighted_mean(values, rows(batch))
      return value, {name: value}
    return losses.loss_term(term)

  return GenerativeTerms(
      md=losses.loss_term(md),
      vision=losses.loss_term(vision),
      text=retention(lambda b: ~b["image_mask"], "text_kl"),
      mkr=retention(lambda b: b["image_mask"], "mkr_kl"))

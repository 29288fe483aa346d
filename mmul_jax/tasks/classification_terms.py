"""The loss terms of classification models over the fusion encoder (NLVR2,
SNLI-VE; spec §1.4 b, c): a model with a class head over
`{"image": (B, K, H, W, 3), "text", "label", "image_id"}` batches, where
`image_id` is the deletion unit (an image or an image pair).

MMUL's terms:

* L_MD (Df): the fusion [CLS] of each deleted example, pulled to the
  original model's [CLS] on the same images with an unrelated sentence
  (a derangement over units of the Df batch, or retained sentences);
* L_UKR (Df): the full ViT token sequences of the deleted images (every
  image of the example), as in the reference; classification has no text
  term;
* L_MKR (Dr): the fusion [CLS] on retained examples.

Frozen models arrive as a dict by name (`model_terms.ORIGINAL` is θ₀).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.tasks import base
from mmul_jax.tasks import mmul_plus_terms as plus
from mmul_jax.tasks import model_terms

ORIGINAL = model_terms.ORIGINAL


def _classify(model, params, images, text, *, rng=None):
  """The model being unlearned (with `rng`: training mode) or the frozen
  one (without)."""
  if rng is None:
    return model_terms.frozen(model, params, model.classify, images, text)
  return model_terms.student(model, params, model.classify, images, text,
                             rng=rng)


def training_loss(model) -> base.TaskLoss:
  """`loss(params, batch, rng) -> (per-example (B,), aux)`: cross-entropy
  of the class head (`model.classify`) against `batch["label"]`."""

  def loss_fn(params, batch, rng: jax.Array):
    out = model.apply(params, batch["image"], batch["text"], train=True,
                      rngs={"dropout": rng}, method=model.classify)
    log_p = jax.nn.log_softmax(out["class_logits"])
    ce = -jnp.take_along_axis(log_p, batch["label"][:, None], axis=1)[:, 0]
    acc = jnp.mean(jnp.argmax(log_p, -1) == batch["label"])
    return ce, {"ce": jnp.mean(ce), "acc": acc}

  return loss_fn


def modality_decoupling(model, *, negative_source: str = "df",
                        axis_name: str | None = None) -> losses.LossTerm:
  """L_MD on `batch["df"]`; unrelated sentences from Df (a derangement keyed
  on units over the global batch) or from `batch["dr"]`
  (`model_terms.unrelated_partners`)."""
  model_terms.check_negative_source(negative_source)

  def term(params, frozen, batch, *, rng):
    df = batch["df"]
    if plus.OUTPUTS in df:  # mmul_plus's share ran both models
      return losses.fused_modality_decoupling(
          df[plus.OUTPUTS]["fusion_cls"], df[plus.TARGETS]["fusion_cls"]), {
              plus.VALID: df[plus.VALID]}
    k_perm, k_drop = jax.random.split(rng)
    unrelated, aux = model_terms.unrelated_partners(
        k_perm, df["image_id"], df["text"], lambda: batch["dr"]["text"],
        negative_source=negative_source, axis_name=axis_name)
    fused = _classify(model, params, df["image"], df["text"],
                      rng=k_drop)["fusion_cls"]
    target = _classify(model, frozen[ORIGINAL], df["image"],
                       unrelated)["fusion_cls"]
    return losses.fused_modality_decoupling(fused, target), aux

  return losses.loss_term(term)


def unimodal_retention(model) -> losses.LossTerm:
  """L_UKR on a flat batch (Df for MMUL): ViT tokens of every image."""

  def term(params, frozen, batch, *, rng):
    images = batch["image"]
    flat = images.reshape((-1,) + images.shape[2:])
    tokens = model_terms.student(model, params, model.encode_image, flat,
                                 rng=rng)["image_tokens"]
    tokens0 = model_terms.frozen(model, frozen[ORIGINAL], model.encode_image,
                                 flat)["image_tokens"]
    per_example = lambda t: t.reshape(images.shape[0], -1)
    return losses.unimodal_retention((per_example(tokens),),
                                     (per_example(tokens0),)), {}

  return losses.loss_term(term)


def multimodal_retention(model) -> losses.LossTerm:
  """L_MKR on a flat batch (Dr for MMUL): the fusion [CLS]."""

  def term(params, frozen, batch, *, rng):
    fused = _classify(model, params, batch["image"], batch["text"],
                      rng=rng)["fusion_cls"]
    fused0 = _classify(model, frozen[ORIGINAL], batch["image"],
                       batch["text"])["fusion_cls"]
    return losses.multimodal_retention(fused, fused0), {}

  return losses.loss_term(term)


def classification_logits(out: dict, labels: jax.Array) -> dict[str, tuple]:
  """A classification model's answers: its class logits and the true-class
  mask (what DELETE masks)."""
  logits = out["class_logits"]
  return {"cls": (logits, jax.nn.one_hot(labels, logits.shape[-1],
                                         dtype=bool))}

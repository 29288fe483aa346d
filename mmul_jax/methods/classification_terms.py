"""MMUL's loss terms for classification models (NLVR2, SNLI-VE; spec §1.4
b, c): a model with a class head (`num_classes > 0`) over
`{"image": (B, K, H, W, 3), "text", "label", "image_id"}` batches, where
`image_id` is the deletion unit (an image or an image pair).

* L_MD (Df): the fusion [CLS] of each deleted example, pulled to the
  original model's [CLS] on the same images with an unrelated sentence
  (a derangement over units of the Df batch, or retained sentences);
* L_UKR (Df): the full ViT token sequences of the deleted images (every
  image of the example), as in the reference; classification has no text
  term;
* L_MKR (Dr): the fusion [CLS] on retained examples.

The model being unlearned runs in training mode, the original in inference
mode under `stop_gradient`, as in `terms`.
"""

from __future__ import annotations

import jax

from mmul_jax import losses
from mmul_jax.methods import terms


def _classify(model, params, images, text, *, rng=None):
  """The model being unlearned (with `rng`: training mode) or the frozen
  one (without)."""
  if rng is None:
    return terms._frozen(model, params, model.classify, images, text)
  return terms._student(model, params, model.classify, images, text,
                        rng=rng)


def modality_decoupling(model, *, negative_source: str = "df",
                        axis_name: str | None = None) -> losses.LossTerm:
  """L_MD on `batch["df"]`; unrelated sentences from Df (a derangement keyed
  on units over the global batch) or from `batch["dr"]`
  (`terms.unrelated_partners`)."""
  terms.check_negative_source(negative_source)

  def term(params, frozen_params, batch, *, rng):
    df = batch["df"]
    k_perm, k_drop = jax.random.split(rng)
    unrelated, aux = terms.unrelated_partners(
        k_perm, df["image_id"], df["text"], lambda: batch["dr"]["text"],
        negative_source=negative_source, axis_name=axis_name)
    fused = _classify(model, params, df["image"], df["text"],
                      rng=k_drop)["fusion_cls"]
    target = _classify(model, frozen_params, df["image"],
                       unrelated)["fusion_cls"]
    return losses.fused_modality_decoupling(fused, target), aux

  return losses.loss_term(term)


def unimodal_retention(model) -> losses.LossTerm:
  """L_UKR on a flat batch (Df for MMUL): ViT tokens of every image."""

  def term(params, frozen_params, batch, *, rng):
    images = batch["image"]
    flat = images.reshape((-1,) + images.shape[2:])
    tokens = terms._student(model, params, model.encode_image, flat,
                            rng=rng)["image_tokens"]
    tokens0 = terms._frozen(model, frozen_params, model.encode_image,
                            flat)["image_tokens"]
    per_example = lambda t: t.reshape(images.shape[0], -1)
    return losses.unimodal_retention((per_example(tokens),),
                                     (per_example(tokens0),)), {}

  return losses.loss_term(term)


def multimodal_retention(model) -> losses.LossTerm:
  """L_MKR on a flat batch (Dr for MMUL): the fusion [CLS]."""

  def term(params, frozen_params, batch, *, rng):
    fused = _classify(model, params, batch["image"], batch["text"],
                      rng=rng)["fusion_cls"]
    fused0 = _classify(model, frozen_params, batch["image"],
                       batch["text"])["fusion_cls"]
    return losses.multimodal_retention(fused, fused0), {}

  return losses.loss_term(term)

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
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.losses import _collective
from mmul_jax.methods import terms


def _classify(model, params, batch_or_images, text=None, *, rng=None):
  images = batch_or_images if text is not None else batch_or_images["image"]
  text = text if text is not None else batch_or_images["text"]
  if rng is None:
    return terms._frozen(model, params, model.classify, images, text)
  return terms._student(model, params, model.classify, images, text,
                        rng=rng)


def modality_decoupling(model, *, negative_source: str = "df",
                        axis_name: str | None = None) -> losses.LossTerm:
  """L_MD on `batch["df"]`; unrelated sentences from Df (a derangement keyed
  on units over the global batch) or from `batch["dr"]`."""
  if negative_source not in terms.NEGATIVE_SOURCES:
    raise ValueError(f"negative_source must be one of "
                     f"{terms.NEGATIVE_SOURCES}, got {negative_source!r}")

  def term(params, frozen_params, batch, *, rng):
    df = batch["df"]
    k_perm, k_drop = jax.random.split(rng)
    b = df["text"].shape[0]
    aux = {}
    if negative_source == "df":
      ids_all = _collective.gather(df["image_id"], axis_name)
      perm, valid = losses.derangement(k_perm, ids_all)
      pool = _collective.gather(jnp.asarray(df["text"]), axis_name)[perm]
      aux["derangement_valid"] = valid.astype(jnp.float32)
    else:
      pool = _collective.gather(jnp.asarray(batch["dr"]["text"]), axis_name)
      n_df = b if axis_name is None else b * jax.lax.axis_size(axis_name)
      if pool.shape[0] < n_df:
        raise ValueError("negative_source='dr' needs a Dr batch at least as "
                         "large as the Df batch")
      pool = pool[jax.random.permutation(k_perm, pool.shape[0])[:n_df]]
    unrelated = terms._local_rows(pool, b, axis_name)
    fused = _classify(model, params, df, rng=k_drop)["fusion_cls"]
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
    fused = _classify(model, params, batch, rng=rng)["fusion_cls"]
    fused0 = _classify(model, frozen_params, batch)["fusion_cls"]
    return losses.multimodal_retention(fused, fused0), {}

  return losses.loss_term(term)


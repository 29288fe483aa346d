"""The loss terms of image-text (and graph-text) retrieval models: the
training objective, MMUL's three terms and the logit views of distillation.

Frozen models arrive as a dict by name (`model_terms.ORIGINAL` is θ₀).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.losses import _collective
from mmul_jax.losses import _contrastive as contrastive
from mmul_jax.tasks import base
from mmul_jax.tasks import mmul_plus_terms as plus
from mmul_jax.tasks import model_terms

ORIGINAL = model_terms.ORIGINAL
_student, _frozen = model_terms.student, model_terms.frozen


def training_loss(model, *, itm_weight: float = 1.0,
                  axis_name: str | None = None) -> base.TaskLoss:
  """`loss(params, batch, rng) -> (per-example (B,), aux)`: contrastive +
  matching; their batch mean is the training loss.

  ITC: CLIP's symmetric InfoNCE over in-batch negatives. ITM: the fusion
  head classifies the true pairs against one hard negative text per image
  and one hard negative image per text, sampled ALBEF-style in proportion to
  the exponentiated similarity (captions of the same image never count as
  negatives).
  """

  def loss_fn(params, batch, rng: jax.Array):
    drop_rng, neg_rng = jax.random.split(rng)
    rngs = {"dropout": drop_rng}
    out = model.apply(params, batch["image"], batch["text"], train=True,
                      rngs=rngs)
    ids = batch["image_id"]
    itc = contrastive.clip_contrastive(
        out["image_embed"], out["text_embed"], logit_scale=out["logit_scale"],
        ids=ids, axis_name=axis_name)
    sim = out["image_embed"] @ out["text_embed"].T
    text_idx, image_idx = contrastive.sample_hard_negatives(
        neg_rng, sim, contrastive.positive_mask(ids, ids))
    fuse = lambda i, t: model.apply(
        params, out["image_tokens"][i], out["text_tokens"][t],
        out["text_mask"][t], out["image_mask"][i], train=True, rngs=rngs,
        method=model.fuse)["itm_logits"]
    rows = jnp.arange(len(ids))
    neg_text = fuse(rows, text_idx)
    neg_image = fuse(image_idx, rows)
    itm = contrastive.itm_cross_entropy(out["itm_logits"], neg_text,
                                        neg_image)
    per_example = itc + itm_weight * itm
    itm_acc = jnp.mean(jnp.concatenate([
        jnp.argmax(out["itm_logits"], -1) == 1,
        jnp.argmax(neg_text, -1) == 0, jnp.argmax(neg_image, -1) == 0]))
    aux = {"itc": jnp.mean(itc), "itm": jnp.mean(itm), "itm_acc": itm_acc,
           "logit_scale": out["logit_scale"]}
    return per_example, aux

  return loss_fn


def _embeddings(model, params, frozen, batch, k_img, k_txt):
  """Image and text embeddings of the model being unlearned and the
  original: `batch["embeddings"]` when `share_embeddings` put them there,
  else computed (XLA drops whichever a term does not use)."""
  if "embeddings" in batch:
    return batch["embeddings"]
  theta0 = frozen[ORIGINAL]
  return (
      _student(model, params, model.encode_image, batch["image"],
               rng=k_img)["image_embed"],
      _student(model, params, model.encode_text, batch["text"],
               rng=k_txt)["text_embed"],
      _frozen(model, theta0, model.encode_image,
              batch["image"])["image_embed"],
      _frozen(model, theta0, model.encode_text,
              batch["text"])["text_embed"])


def share_embeddings(model, part: str = "df"):
  """For `losses.precompute`: computes `_embeddings` of `batch[part]` once
  and stores them in it, for every term that reads that part."""

  def fn(params, frozen, batch, *, rng):
    k_img, k_txt = jax.random.split(rng)
    sub = batch[part]
    shared = _embeddings(model, params, frozen, sub, k_img, k_txt)
    return {**batch, part: {**sub, "embeddings": shared}}

  return fn


def modality_decoupling(model, *, negative_source: str = "df",
                        axis_name: str | None = None) -> losses.LossTerm:
  """L_MD on `batch["df"]`; unrelated captions from Df or from `batch["dr"]`
  (`model_terms.unrelated_partners`): the original model's embeddings of a
  deranged Df caption, or of a random retained caption."""
  model_terms.check_negative_source(negative_source)

  def term(params, frozen, batch, *, rng):
    df = batch["df"]
    k_perm, k_img, k_txt = jax.random.split(rng, 3)
    img, txt, img0, txt0 = _embeddings(model, params, frozen, df, k_img,
                                       k_txt)
    if plus.TARGETS in df:  # mmul_plus's share drew the partners
      neg, aux = df[plus.TARGETS]["text_embed"], {plus.VALID: df[plus.VALID]}
    else:
      neg, aux = model_terms.unrelated_partners(
          k_perm, df["image_id"], txt0,
          lambda: _frozen(model, frozen[ORIGINAL], model.encode_text,
                          batch["dr"]["text"])["text_embed"],
          negative_source=negative_source, axis_name=axis_name)
    aux["df_pair_sim"] = jnp.mean(jnp.sum(img * txt, -1))
    return losses.modality_decoupling(img, txt, img0, neg,
                                      axis_name=axis_name), aux

  return losses.loss_term(term)


def unimodal_retention(model) -> losses.LossTerm:
  """L_UKR on a flat batch (Df for MMUL): image and text embeddings."""

  def term(params, frozen, batch, *, rng):
    img, txt, img0, txt0 = _embeddings(model, params, frozen, batch,
                                       *jax.random.split(rng))
    return losses.unimodal_retention((img, txt), (img0, txt0)), {}

  return losses.loss_term(term)


def multimodal_retention(model) -> losses.LossTerm:
  """L_MKR on a flat batch (Dr for MMUL): the fusion [CLS]."""

  def term(params, frozen, batch, *, rng):
    fused = _student(model, params, model.__call__, batch["image"],
                     batch["text"], rng=rng)["fusion_cls"]
    fused0 = _frozen(model, frozen[ORIGINAL], model.__call__,
                     batch["image"], batch["text"])["fusion_cls"]
    return losses.multimodal_retention(fused, fused0), {}

  return losses.loss_term(term)


def retrieval_logits(out: dict, ids: jax.Array,
                     axis_name: str | None = None) -> dict[str, tuple]:
  """The model's answers as classification logits, with their true classes.

  Retrieval has no labels; its "logits" are (1) each image's scores over the
  batch's captions, (2) each caption's scores over the batch's images, both
  scaled by the learned temperature as in ITC, and (3) the matching head's
  two logits of the true pair. Values: `(logits, true_class_mask)`.
  """
  scale = jnp.exp(out["logit_scale"])
  img_all = _collective.gather(out["image_embed"], axis_name)
  txt_all = _collective.gather(out["text_embed"], axis_name)
  positives = losses.positive_mask(ids, _collective.gather(ids, axis_name))
  itm = out["itm_logits"]
  matched = jnp.zeros(itm.shape, bool).at[:, 1].set(True)
  return {"i2t": (scale * out["image_embed"] @ txt_all.T, positives),
          "t2i": (scale * out["text_embed"] @ img_all.T, positives),
          "itm": (itm, matched)}

"""The task loss the original (and retrained) model is trained with:
contrastive + matching for retrieval, cross-entropy for classification."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.losses import _contrastive as contrastive

Batch = dict[str, jax.Array]


def make_pretrain_loss(model, *, itm_weight: float = 1.0,
                       axis_name: str | None = None) -> Callable[..., Any]:
  """`loss(params, batch, rng) -> (per-example (B,), aux)`: contrastive +
  matching; their batch mean is the training loss.

  ITC: CLIP's symmetric InfoNCE over in-batch negatives. ITM: the fusion
  head classifies the true pairs against one hard negative text per image
  and one hard negative image per text, sampled ALBEF-style in proportion to
  the exponentiated similarity (captions of the same image never count as
  negatives).
  """

  def loss_fn(params, batch: Batch, rng: jax.Array):
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


def make_classification_loss(model) -> Callable[..., Any]:
  """`loss(params, batch, rng) -> (per-example (B,), aux)`: cross-entropy
  of the class head (`model.classify`) against `batch["label"]`."""

  def loss_fn(params, batch: Batch, rng: jax.Array):
    out = model.apply(params, batch["image"], batch["text"], train=True,
                      rngs={"dropout": rng}, method=model.classify)
    log_p = jax.nn.log_softmax(out["class_logits"])
    ce = -jnp.take_along_axis(log_p, batch["label"][:, None], axis=1)[:, 0]
    acc = jnp.mean(jnp.argmax(log_p, -1) == batch["label"])
    return ce, {"ce": jnp.mean(ce), "acc": acc}

  return loss_fn


def pretrain_term(model, *, itm_weight: float = 1.0,
                  axis_name: str | None = None,
                  superloss_lambda: float | None = None) -> losses.LossTerm:
  """The model's task loss as a `LossTerm` on a flat batch (the frozen
  model is ignored): `make_pretrain_loss` for retrieval models,
  `make_classification_loss` for models with a class head. The batch mean,
  or with `superloss_lambda` the SuperLoss curriculum's confidence-weighted
  mean (`losses.superloss`)."""
  if model.num_classes:
    fn = make_classification_loss(model)
  else:
    fn = make_pretrain_loss(model, itm_weight=itm_weight,
                            axis_name=axis_name)

  def term(params, frozen_params, batch, *, rng):
    del frozen_params
    return fn(params, batch, rng)

  if superloss_lambda is not None:
    return losses.superloss(term, lam=superloss_lambda)
  return losses.loss_term(term)

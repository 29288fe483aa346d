"""Loss terms of the dual encoder: the losses of `mmul_jax.losses` wired to
the model's representations, as `LossTerm`s that methods compose.

The model being unlearned runs in training mode (dropout on) and the frozen
model in inference mode under `stop_gradient`, as in the reference. Terms
that compare against other batch items take `axis_name`, so they also give
global-batch values under `shard_map` or `pmap`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.losses import _collective


# Where modality decoupling takes its unrelated captions from.
NEGATIVE_SOURCES = ("df", "dr")


def _student(model, params, method, *args, rng):
  return model.apply(params, *args, train=True, method=method,
                     rngs={"dropout": rng})


def _frozen(model, params, method, *args):
  return jax.lax.stop_gradient(
      model.apply(params, *args, train=False, method=method))


def _embeddings(model, params, frozen_params, batch, k_img, k_txt):
  """Image and text embeddings of the model being unlearned and the frozen
  one: `batch["embeddings"]` when `share_embeddings` put them there, else
  computed (XLA drops whichever a term does not use)."""
  if "embeddings" in batch:
    return batch["embeddings"]
  return (
      _student(model, params, model.encode_image, batch["image"],
               rng=k_img)["image_embed"],
      _student(model, params, model.encode_text, batch["text"],
               rng=k_txt)["text_embed"],
      _frozen(model, frozen_params, model.encode_image,
              batch["image"])["image_embed"],
      _frozen(model, frozen_params, model.encode_text,
              batch["text"])["text_embed"])


def share_embeddings(model, part: str = "df"):
  """For `losses.precompute`: computes `_embeddings` of `batch[part]` once
  and stores them in it, for every term that reads that part."""

  def fn(params, frozen_params, batch, *, rng):
    k_img, k_txt = jax.random.split(rng)
    sub = batch[part]
    shared = _embeddings(model, params, frozen_params, sub, k_img, k_txt)
    return {**batch, part: {**sub, "embeddings": shared}}

  return fn


def _local_rows(x_all: jax.Array, rows: int, axis_name: str | None):
  start = _collective.row_offset(rows, axis_name)
  return jax.lax.dynamic_slice_in_dim(x_all, start, rows)


def check_negative_source(negative_source: str) -> None:
  if negative_source not in NEGATIVE_SOURCES:
    raise ValueError(f"negative_source must be one of {NEGATIVE_SOURCES}, "
                     f"got {negative_source!r}")


def unrelated_partners(rng, df_ids, df_values, dr_values, *,
                       negative_source: str, axis_name: str | None):
  """For each local Df row, the value of an unrelated item, and aux.

  With "df": `df_values` permuted by a derangement keyed on `df_ids` over
  the global batch, so no unit is paired with one of its own texts (the
  reference's `randperm` could). With "dr": a random choice among
  `dr_values()` (a callable, so the Dr values are computed only here).
  """
  b = df_ids.shape[0]
  aux = {}
  if negative_source == "df":
    ids_all = _collective.gather(df_ids, axis_name)
    perm, valid = losses.derangement(rng, ids_all)
    pool = _collective.gather(jnp.asarray(df_values), axis_name)[perm]
    aux["derangement_valid"] = valid.astype(jnp.float32)
  else:
    pool = _collective.gather(jnp.asarray(dr_values()), axis_name)
    n_df = b if axis_name is None else b * jax.lax.axis_size(axis_name)
    if pool.shape[0] < n_df:
      raise ValueError("negative_source='dr' needs a Dr batch at least as "
                       "large as the Df batch")
    pool = pool[jax.random.permutation(rng, pool.shape[0])[:n_df]]
  return _local_rows(pool, b, axis_name), aux


def modality_decoupling(model, *, negative_source: str = "df",
                        axis_name: str | None = None) -> losses.LossTerm:
  """L_MD on `batch["df"]`; unrelated captions from Df or from `batch["dr"]`
  (`unrelated_partners`): the original model's embeddings of a deranged Df
  caption, or of a random retained caption."""
  check_negative_source(negative_source)

  def term(params, frozen_params, batch, *, rng):
    df = batch["df"]
    k_perm, k_img, k_txt = jax.random.split(rng, 3)
    img, txt, img0, txt0 = _embeddings(model, params, frozen_params, df,
                                       k_img, k_txt)
    neg, aux = unrelated_partners(
        k_perm, df["image_id"], txt0,
        lambda: _frozen(model, frozen_params, model.encode_text,
                        batch["dr"]["text"])["text_embed"],
        negative_source=negative_source, axis_name=axis_name)
    aux["df_pair_sim"] = jnp.mean(jnp.sum(img * txt, -1))
    return losses.modality_decoupling(img, txt, img0, neg,
                                      axis_name=axis_name), aux

  return losses.loss_term(term)


def unimodal_retention(model) -> losses.LossTerm:
  """L_UKR on a flat batch (Df for MMUL): image and text embeddings."""

  def term(params, frozen_params, batch, *, rng):
    img, txt, img0, txt0 = _embeddings(model, params, frozen_params, batch,
                                       *jax.random.split(rng))
    return losses.unimodal_retention((img, txt), (img0, txt0)), {}

  return losses.loss_term(term)


def multimodal_retention(model) -> losses.LossTerm:
  """L_MKR on a flat batch (Dr for MMUL): the fusion [CLS]."""

  def term(params, frozen_params, batch, *, rng):
    fused = _student(model, params, model.__call__, batch["image"],
                     batch["text"], rng=rng)["fusion_cls"]
    fused0 = _frozen(model, frozen_params, model.__call__, batch["image"],
                     batch["text"])["fusion_cls"]
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


def classification_logits(out: dict, labels: jax.Array) -> dict[str, tuple]:
  """A classification model's answers: its class logits and the true-class
  mask (what DELETE masks)."""
  logits = out["class_logits"]
  return {"cls": (logits, jax.nn.one_hot(labels, logits.shape[-1],
                                         dtype=bool))}


def _distillation(model, loss_fn, axis_name):
  if model.num_classes:
    method = model.classify
    views = lambda out, batch: classification_logits(out, batch["label"])
  else:
    method = model.__call__
    views = lambda out, batch: retrieval_logits(out, batch["image_id"],
                                                axis_name)

  def term(params, frozen_params, batch, *, rng):
    student = views(_student(model, params, method, batch["image"],
                             batch["text"], rng=rng), batch)
    teacher = views(_frozen(model, frozen_params, method, batch["image"],
                            batch["text"]), batch)
    per_view = {k: loss_fn(teacher[k][0], student[k][0], teacher[k][1])
                for k in student}
    values = sum(per_view.values()) / len(per_view)
    return values, {f"kl_{k}": jnp.mean(v) for k, v in per_view.items()}
  return losses.loss_term(term)


def distillation(model, *, temperature: float = 1.0,
                 axis_name: str | None = None) -> losses.LossTerm:
  """KL(teacher ‖ student) on a flat batch, averaged over the three views of
  `retrieval_logits` (classification models: their class logits); the
  teacher is the frozen model."""
  return _distillation(
      model, lambda t, s, _: losses.kl_divergence(
          t, s, temperature=temperature), axis_name)


def decoupled_distillation(model, *, temperature: float = 1.0,
                           mask_value: float = -1e9,
                           axis_name: str | None = None) -> losses.LossTerm:
  """DELETE's loss on a flat batch: KL to the frozen teacher with the true
  captions, images and the "matched" class masked out of its logits."""
  return _distillation(
      model, lambda t, s, m: losses.decoupled_distillation(
          t, s, m, temperature=temperature, mask_value=mask_value),
      axis_name)


def l1_penalty() -> losses.LossTerm:
  """‖θ‖₁ of the parameters being unlearned (ℓ1-sparse)."""

  def term(params, frozen_params, batch, *, rng):
    del frozen_params, batch, rng
    return losses.l1_norm(params), {}

  return losses.loss_term(term)


def zero() -> losses.LossTerm:
  """A constant 0 with zero gradients: for methods that only perturb."""

  def term(params, frozen_params, batch, *, rng):
    del params, frozen_params, batch, rng
    return jnp.zeros((), jnp.float32), {}

  return losses.loss_term(term)

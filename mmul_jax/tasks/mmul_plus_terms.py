"""The loss terms of `mmul_plus`: MMUL's modality decoupling carried to every
score the model produces, and retention of the heads' answers.

The paper's L_MD (retrieval) acts on the unimodal cosine similarities only,
and its L_MKR holds the fusion [CLS] of retained pairs where the original
had it, so the matching head still recognises the deleted pairs. Here the
fusion path of each deleted example is pulled to what the original gives
the same image(s) with an unrelated text, at two places:

* "fusion" (retrieval, graph-text): the fusion [CLS], by mean squared
  error (`losses.fused_modality_decoupling`, the classification L_MD of the
  paper, applied to retrieval's matching path);
* "answer" (every task with a head): the head's output distribution, the
  matching head's match / no-match for retrieval and the class
  distribution for NLVR2 / VE, by KL (`losses.answer_decoupling`).

"mkr_scores" holds on Dr every score the model answers with (the heads'
answers, and for retrieval the cosine similarities) where the original
had them, instead of the paper's whole fusion [CLS] ("mkr"): the
directions of the [CLS] no score reads are free to move with the
decoupling, and the cosine ranking of Dr, which the paper's terms leave
unguarded, is held.

All decoupling terms of one step share one draw of unrelated partners and
one forward pass of each model (`share`): the model being unlearned on the
deleted pairs, the original on the same images with the unrelated texts.
Frozen models arrive as a dict by name (`model_terms.ORIGINAL` is θ₀).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax import losses
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import retrain_referenced as rr
from mmul_jax.tasks import model_terms

ORIGINAL = model_terms.ORIGINAL
_student, _frozen = model_terms.student, model_terms.frozen
# What the share adds to `batch["df"]`.
OUTPUTS, TARGETS, VALID = "outputs", "targets", "derangement_valid"


class PlusTerms(NamedTuple):
  """`Task.mmul_plus_terms`: `terms` by name ("md", "ukr", "mkr" as the
  paper, reading the share's views where it ran; "answer", "fusion" and
  "mkr_scores" added), and `share`, the `losses.precompute` function that
  computes the deleted examples' views once. Which terms read a flat
  batch (placed on Df or Dr by the method) is in `flat`."""

  terms: dict[str, losses.LossTerm]
  share: Callable
  flat: tuple[str, ...] = ("ukr", "mkr", "mkr_scores")


def _unrelated_text(rng, batch, negative_source, axis_name):
  df = batch["df"]
  return model_terms.unrelated_partners(
      rng, df["image_id"], df["text"], lambda: batch["dr"]["text"],
      negative_source=negative_source, axis_name=axis_name)


def _valid(aux) -> jax.Array:
  """Whether the derangement was possible (always, for Dr partners)."""
  return jnp.asarray(aux.get(VALID, 1.0), jnp.float32)


def retrieval_share(model, *, negative_source: str = "df",
                    axis_name: str | None = None):
  """Adds to `batch["df"]`: the student's outputs on the deleted pairs
  (`model.__call__`, training mode), "embeddings" (the tuple the paper's
  terms read: student and original image and text embeddings) and the
  original's outputs on the same images with unrelated captions (text
  embedding, fusion [CLS], matching logits)."""
  model_terms.check_negative_source(negative_source)

  def fn(params, frozen, batch, *, rng):
    df = batch["df"]
    k_perm, k_drop = jax.random.split(rng)
    theta0 = frozen[ORIGINAL]
    out = _student(model, params, model.__call__, df["image"], df["text"],
                   rng=k_drop)
    img0 = _frozen(model, theta0, model.encode_image, df["image"])
    txt0 = _frozen(model, theta0, model.encode_text, df["text"])
    unrelated, aux = _unrelated_text(k_perm, batch, negative_source,
                                     axis_name)
    neg = _frozen(model, theta0, model.encode_text, unrelated)
    target = _frozen(model, theta0, model.fuse, img0["image_tokens"],
                     neg["text_tokens"], neg["text_mask"], img0["image_mask"])
    views = {
        OUTPUTS: out, TARGETS: {"text_embed": neg["text_embed"], **target},
        "embeddings": (out["image_embed"], out["text_embed"],
                       img0["image_embed"], txt0["text_embed"]),
        VALID: _valid(aux)}
    return {**batch, "df": {**df, **views}}

  return fn


def classification_share(model, *, negative_source: str = "df",
                         axis_name: str | None = None):
  """Adds to `batch["df"]`: the student's `classify` outputs on the deleted
  examples and the original's on the same images with unrelated
  sentences."""
  model_terms.check_negative_source(negative_source)

  def fn(params, frozen, batch, *, rng):
    df = batch["df"]
    k_perm, k_drop = jax.random.split(rng)
    unrelated, aux = _unrelated_text(k_perm, batch, negative_source,
                                     axis_name)
    out = _student(model, params, model.classify, df["image"], df["text"],
                   rng=k_drop)
    target = _frozen(model, frozen[ORIGINAL], model.classify, df["image"],
                     unrelated)
    return {**batch, "df": {**df, OUTPUTS: out, TARGETS: target,
                            VALID: _valid(aux)}}

  return fn


def views(share, params, frozen, batch, rng):
  """`(outputs, targets, aux)` of the deleted examples: the share's, or
  computed here when the term runs without it."""
  df = batch["df"]
  if OUTPUTS not in df:
    df = share(params, frozen, batch, rng=rng)["df"]
  return df[OUTPUTS], df[TARGETS], {VALID: df[VALID]}


def fusion_decoupling(share) -> losses.LossTerm:
  """"fusion": the deleted pairs' fusion [CLS] pulled to the original's
  [CLS] of the same images with unrelated captions."""

  def term(params, frozen, batch, *, rng):
    out, target, aux = views(share, params, frozen, batch, rng)
    return losses.fused_modality_decoupling(out["fusion_cls"],
                                            target["fusion_cls"]), aux

  return losses.loss_term(term)


def answer_decoupling(share, key: str) -> losses.LossTerm:
  """"answer": the head's distribution (`outputs[key]`: "itm_logits" or
  "class_logits") on each deleted example pulled to the original's on the
  same images with an unrelated text."""

  def term(params, frozen, batch, *, rng):
    out, target, aux = views(share, params, frozen, batch, rng)
    return losses.answer_decoupling(out[key], target[key]), aux

  return losses.loss_term(term)


def score_retention(model, method: str, key: str, *, cosine: bool,
                    axis_name: str | None = None) -> losses.LossTerm:
  """"mkr_scores", on a flat batch (Dr): every score the model answers
  with stays the original's on retained examples. KL(original ‖ student)
  of the head's answers (`model.<method>(...)[key]`) and, with `cosine`
  (retrieval), the in-batch cosine similarities of the retained pairs by
  the L_MD formula with the original's own similarities as the target
  (`losses.modality_decoupling`; over the global batch under
  `axis_name`)."""

  def term(params, frozen, batch, *, rng):
    args = batch["image"], batch["text"]
    out = _student(model, params, getattr(model, method), *args, rng=rng)
    out0 = _frozen(model, frozen[ORIGINAL], getattr(model, method), *args)
    value = losses.kl_divergence(out0[key], out[key])
    if cosine:
      value = value + losses.modality_decoupling(
          out["image_embed"], out["text_embed"], out0["image_embed"],
          out0["text_embed"], axis_name=axis_name)
    return value, {}

  return losses.loss_term(term)


# The calibrated decoupling target (`method.mmul_plus.target =
# "held_out"`): a frozen tree of this name holds, per deleted unit (sorted
# ids), the pair cosine and matching logit a never-trained pair of the same
# rank gets from the original.
CALIBRATION = "calibration"


def calibrated_targets(df_scores: dict, df_ids, held_out_scores: dict
                       ) -> dict:
  """The calibrated targets of every deleted unit: its mean pair cosine
  and matching logit under the original, ranked among Df's, mapped to the
  same quantile of the original's scores on held-out, never-trained pairs
  (`example_scores.retrieval_set` scores of both sets). A model retrained
  without Df sees Df as such pairs; the quantile map keeps Df's order and
  spread where pulling every pair to one value would not.

  Returns `{"ids": sorted unit ids, "cosine": ..., "logit": ...}`, float32
  and int32 arrays in id order."""
  ids = np.asarray(df_ids, np.int64)
  order = np.argsort(ids)
  n = len(ids)
  out = {"ids": ids[order].astype(np.int32)}
  for name, key, f in (("cosine", "cosine", np.asarray),
                       ("logit", "match", rr.logit)):
    unit = example_scores.unit_means(f(df_scores[key]),
                                     df_scores["caption_owner"], n)
    rank = np.argsort(np.argsort(unit, kind="stable"), kind="stable")
    target = np.quantile(f(held_out_scores[key]), (rank + 0.5) / n)
    out[name] = target[order].astype(np.float32)
  return out


def _targets(frozen, image_id) -> dict:
  table = {k: jnp.asarray(v) for k, v in frozen[CALIBRATION].items()}
  index = jnp.searchsorted(table["ids"],
                           jnp.asarray(image_id).astype(table["ids"].dtype))
  index = jnp.clip(index, 0, table["ids"].shape[0] - 1)
  return {k: table[k][index] for k in ("cosine", "logit")}


def calibrated_decoupling(share) -> losses.LossTerm:
  """"md_cal": each deleted pair's cosine pulled, by squared error, to its
  calibrated target (`calibrated_targets`), instead of to an unrelated
  pair's."""

  def term(params, frozen, batch, *, rng):
    out, _, aux = views(share, params, frozen, batch, rng)
    cos = jnp.sum(out["image_embed"].astype(jnp.float32)
                  * out["text_embed"].astype(jnp.float32), axis=-1)
    target = _targets(frozen, batch["df"]["image_id"])["cosine"]
    return (cos - target) ** 2, aux

  return losses.loss_term(term)


def calibrated_answer(share) -> losses.LossTerm:
  """"answer_cal": the matching head's answer on each deleted pair pulled,
  by KL, to its calibrated target probability (sigmoid of the calibrated
  logit), instead of to the original's on an unrelated pair."""

  def term(params, frozen, batch, *, rng):
    out, _, aux = views(share, params, frozen, batch, rng)
    p = jax.nn.sigmoid(_targets(frozen, batch["df"]["image_id"])["logit"])
    target = jnp.stack([1.0 - p, p], axis=-1)
    log_q = jax.nn.log_softmax(out["itm_logits"].astype(jnp.float32))
    kl = jnp.sum(target * (jnp.log(jnp.clip(target, 1e-12)) - log_q),
                 axis=-1)
    return kl, aux

  return losses.loss_term(term)

"""Training on deliberately wrong answers for the deleted data.

* `randlabel` (RandLabel; Golatkar et al. 2020, Graves et al. 2021; MU-Bench
  `random_label`): the task loss on Df with corrupted answers together with
  Dr. For retrieval the corrupted answer of a deleted image is a caption of
  *another* deleted image (a derangement keyed on image ids, so never one of
  its own captions), and the pair counts as a new item. For classification
  it is a random wrong label (`target="labels"`, the NLVR2 and SNLI-VE
  tasks): uniform over the other classes, where MU-Bench's (y + 1) mod C is
  not random. For text generation (`target="answers"`, MU-Bench's
  generative relabelling) each deleted prompt gets the answer of a
  random Dr pair of the batch.
* `salun` (Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-
  based Weight Saliency", ICLR 2024): RandLabel, but only the weights with
  the largest |∇θ L_task(Df)| at θ₀ move (a gradient mask, `threshold` the
  fraction kept, default ½ as in MU-Bench). Departures from MU-Bench: the
  first gradient batch is not thrown away, and the saliency batches use
  the same input pipeline as unlearning.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import gradient_transforms
from mmul_jax import losses
from mmul_jax.methods import base

TARGETS = ("captions", "labels", "answers")


def _merge(first: dict, dr: dict) -> dict:
  """`first` followed by Dr's rows of the same keys; leaf by leaf, since a
  graph-text batch's "image" is a dict of padded graph arrays."""
  return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first,
                      {k: dr[k] for k in first})


def relabel_and_merge(batch: dict, rng: jax.Array) -> dict:
  """One flat batch: Df with each image given another Df image's caption,
  followed by Dr. Relabelled pairs get fresh negative ids, so they are
  positives of each other only."""
  df, dr = batch["df"], batch["dr"]
  perm, _ = losses.derangement(rng, df["image_id"])
  n = df["image_id"].shape[0]
  fake_ids = -1 - jnp.arange(n)
  relabelled = {"image": df["image"], "text": df["text"][perm],
                "image_id": fake_ids}
  return _merge(relabelled, dr)


def wrong_labels_and_merge(num_classes: int):
  """For classification models: Df with each label replaced by a uniformly
  random *other* class, followed by Dr, as one flat batch."""

  def fn(batch: dict, rng: jax.Array) -> dict:
    df, dr = batch["df"], batch["dr"]
    shift = jax.random.randint(rng, df["label"].shape, 1, num_classes)
    return _merge({**df, "label": (df["label"] + shift) % num_classes}, dr)

  return fn


def random_answers_and_merge(batch: dict, rng: jax.Array) -> dict:
  """For language models: Df with each answer replaced by the answer of a
  random Dr pair of the batch, followed by Dr, as one flat batch."""
  df, dr = batch["df"], batch["dr"]
  n = df["image_id"].shape[0]
  pick = jax.random.randint(rng, (n,), 0, dr["image_id"].shape[0])
  return _merge({**df, "answer": dr["answer"][pick],
                 "answer_mask": dr["answer_mask"][pick],
                 "image_id": -1 - jnp.arange(n)}, dr)


def randlabel_loss(ctx: base.Context) -> losses.LossTerm:
  if ctx.hparams.target == "answers":
    return losses.map_batch(ctx.task_loss(), random_answers_and_merge)
  if ctx.hparams.target == "labels":
    return losses.map_batch(ctx.task_loss(),
                            wrong_labels_and_merge(ctx.task.num_classes))
  return losses.map_batch(ctx.task_loss(), relabel_and_merge)


def build_randlabel(ctx: base.Context) -> base.Plan:
  """RandLabel: random captions for the deleted images, or random wrong
  labels on classification tasks (see above)."""
  return base.Plan(loss=randlabel_loss(ctx))


def build_salun(ctx: base.Context) -> base.Plan:
  """SalUn (Fan et al., ICLR 2024): saliency mask at θ₀, then RandLabel."""
  h = ctx.hparams
  saliency = base.gradient_statistic(
      ctx, ctx.task_loss(curriculum=False), "df", num_batches=int(h.mask_batches),
      fn=jnp.abs)
  mask = gradient_transforms.saliency_mask(saliency,
                                           fraction=float(h.threshold))
  kept = sum(float(m.sum()) for m in jax.tree.leaves(mask))
  total = sum(m.size for m in jax.tree.leaves(mask))
  return base.Plan(
      loss=randlabel_loss(ctx),
      gradient_transforms=(gradient_transforms.mask_updates(mask),),
      info={"mask_fraction": kept / total})


def needs(h) -> set[str]:
  """RandLabel's target is the dataset's captions, labels or answers."""
  return {"captions" if h.target == "captions" else h.target}


def check_randlabel(h, config) -> list[str]:
  del config
  if h.target not in TARGETS:
    return [f"target must be one of {list(TARGETS)}"]
  return []


def check_salun(h, config) -> list[str]:
  problems = check_randlabel(h, config)
  if not isinstance(h.threshold, (int, float)) or not 0 < h.threshold <= 1:
    problems.append("threshold (the fraction of weights updated) must be "
                    "in (0, 1]")
  problems += base.require_integers(h, ("mask_batches",), minimum=1)
  return problems


# Measured on the demo (docs/method_defaults.md): no setting of their own
# bounds what training on wrong answers costs the model there.
_RELABEL_CAUTION = (
    "training Df on wrong answers costs the whole model, not only Df (the "
    "demo's test R@1 went from 29.2 to {}, {} at lr 1e-4{}; "
    "docs/method_defaults.md); lower unlearn.num_steps or evaluate as it "
    "goes (unlearn.eval_every with unlearn.early_stopping=retrain_gap)")
RANDLABEL = base.Method(build_randlabel, dict(target="captions"),
                        check=check_randlabel, needs=needs,
                        trains_task_loss=True,
                        caution=_RELABEL_CAUTION.format(20.2, 25.7, ""))
SALUN = base.Method(
    build_salun, dict(target="captions", threshold=0.5, mask_batches=8),
    ranges={"threshold": (0.1, 1.0, "linear")}, check=check_salun,
    caution=_RELABEL_CAUTION.format(
        19.8, 24.7, "; a smaller mask did not bound it"),
    in_state=frozenset({"threshold"}),
    needs=needs, trains_task_loss=True, full_weight=True)

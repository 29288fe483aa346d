"""Hyperparameter recipes that several config files share.

`clip_retrieval` is the reference's retrieval fine-tuning and unlearning
recipe (spec §1.5, ALBEF retrieval configs) on a pretrained CLIP: the
original model fine-tunes for 5 epochs over the training images, unlearning
runs 5 epochs over Df with Df batch 16 (half the training batch of 32) and
Dr batch 64, AdamW with cosine decay to a tenth, ITC top-k re-ranked by the
matching head, MMUL's three weights at the reference's 1.
"""

from __future__ import annotations

import ml_collections

from mmul_jax import config_schema


def clip_retrieval(c: ml_collections.ConfigDict, *, dataset: str,
                   train_images: int, df_images: int, weight_decay: float,
                   rerank_k: int, preset: str = "vit_b16") -> None:
  """Sets `c` (a default config) to the recipe for `dataset`."""
  c.data.name = dataset
  c.data.image_size = 224
  c.data.mean, c.data.std = config_schema.CLIP_MEAN, config_schema.CLIP_STD
  config_schema.use_preset(c, preset)
  c.model.pretrained = f"~/checkpoints/clip-{preset.replace('_', '-')}"

  c.deletion.count = df_images

  c.train.batch_size = 32
  c.train.num_steps = 5 * train_images // c.train.batch_size
  c.train.learning_rate = 1e-5
  c.train.warmup_steps = 500
  c.train.end_learning_rate_ratio = 0.1
  c.train.weight_decay = weight_decay
  c.train.checkpoint_every = 2000
  c.train.log_every = 100

  c.unlearn.df_batch_size = 16
  c.unlearn.dr_batch_size = 64
  c.unlearn.num_steps = 5 * df_images // c.unlearn.df_batch_size
  c.unlearn.learning_rate = 1e-5
  c.unlearn.schedule = "cosine"
  c.unlearn.weight_decay = weight_decay
  c.unlearn.checkpoint_every = 200
  c.unlearn.log_every = 20

  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)

  c.eval.batch_size = 128
  c.eval.rerank_k = rerank_k
  # The AUC needs 5 disjoint samples of |Df| retained images.
  c.eval.max_dr_images = min(5 * df_images, train_images - df_images)


def clip_classification(c: ml_collections.ConfigDict, *, dataset: str,
                        train_rows: int, df_units: int, learning_rate: float,
                        end_ratio: float, weight_decay: float, epochs: int,
                        batch_size: int, warmup_steps: int = 0,
                        preset: str = "vit_b16") -> None:
  """The reference's NLVR2 / SNLI-VE recipe (spec §1.5, ALBEF nlvr and
  snli_ve) on a pretrained CLIP with a class head over the fusion encoder:
  `epochs` over the `train_rows` training sentences at `batch_size`,
  unlearning `epochs` passes over the `df_units` deleted units at half that
  batch with Dr batch 64, cosine decay to `end_ratio` of the rate."""
  c.data.name = dataset
  c.data.image_size = 224
  c.data.mean, c.data.std = config_schema.CLIP_MEAN, config_schema.CLIP_STD
  config_schema.use_preset(c, preset)
  c.model.pretrained = f"~/checkpoints/clip-{preset.replace('_', '-')}"

  c.deletion.count = df_units

  c.train.batch_size = batch_size
  c.train.num_steps = epochs * train_rows // batch_size
  c.train.learning_rate = learning_rate
  c.train.warmup_steps = warmup_steps
  c.train.end_learning_rate_ratio = end_ratio
  c.train.weight_decay = weight_decay
  c.train.checkpoint_every = 2000
  c.train.log_every = 100

  c.unlearn.df_batch_size = batch_size // 2
  c.unlearn.dr_batch_size = 64
  c.unlearn.num_steps = epochs * df_units // c.unlearn.df_batch_size
  c.unlearn.learning_rate = learning_rate
  c.unlearn.schedule = "cosine"
  c.unlearn.weight_decay = weight_decay
  c.unlearn.checkpoint_every = 200
  c.unlearn.log_every = 20

  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)
  c.method.randlabel.target = "labels"
  c.method.salun.target = "labels"

  c.eval.batch_size = 128
  c.eval.max_dr_images = 5 * df_units  # units; the AUC's 5 samples

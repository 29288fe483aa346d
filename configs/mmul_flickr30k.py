"""MMUL on Flickr30K retrieval (Karpathy splits) from pretrained CLIP
ViT-B/16.

  python scripts/unlearn.py --config=configs/mmul_flickr30k.py \
      --config.data.manual_dir=/path/to/flickr30k \
      --config.model.pretrained=/path/to/clip-vit-base-patch16

Needs Karpathy's dataset_flickr30k.json and flickr30k-images/ (the
builder's instructions are printed when they are missing) and a CLIP
checkpoint with its tokenizer.json.

Defaults follow the reference (spec §1.5, ALBEF retrieval_flickr30k): Df of
5,000 images (the paper's sizes are 1,000-5,000: set deletion.ratio to
100 * n / 29000), AdamW lr 1e-5 with cosine decay to 1e-6, weight decay
0.02, Df batch 16, Dr batch 64, 5 epochs over Df, ITC top-128 re-ranked by
the matching head, unit MMUL weights.
"""

from mmul_jax import config_schema

FLICKR_TRAIN_IMAGES = 29_000


def get_config():
  c = config_schema.default_config()
  c.data.name = "flickr30k_karpathy"
  c.data.image_size = 224
  c.data.mean, c.data.std = config_schema.CLIP_MEAN, config_schema.CLIP_STD
  config_schema.use_preset(c, "vit_b16")
  c.model.pretrained = "~/checkpoints/clip-vit-base-patch16"

  c.deletion.ratio = 100 * 5000 / FLICKR_TRAIN_IMAGES

  c.train.batch_size = 32
  c.train.num_steps = 5 * FLICKR_TRAIN_IMAGES // 32  # 5 epochs
  c.train.learning_rate = 1e-5
  c.train.warmup_steps = 500
  c.train.end_learning_rate_ratio = 0.1
  c.train.weight_decay = 0.02
  c.train.checkpoint_every = 1000
  c.train.log_every = 100

  c.unlearn.df_batch_size = 16
  c.unlearn.dr_batch_size = 64
  c.unlearn.num_steps = 5 * 5000 // 16
  c.unlearn.learning_rate = 1e-5
  c.unlearn.schedule = "cosine"
  c.unlearn.weight_decay = 0.02
  c.unlearn.checkpoint_every = 200
  c.unlearn.log_every = 20

  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)

  c.eval.batch_size = 128
  c.eval.rerank_k = 128
  c.eval.max_dr_images = 24_000  # all of Dr
  return c

"""MMUL on MS-COCO retrieval (Karpathy splits) from pretrained CLIP ViT-B/16.

  python scripts/unlearn.py --config=configs/mmul_coco.py \
      --config.data.manual_dir=/path/to/coco \
      --config.model.pretrained=/path/to/clip-vit-base-patch16

Needs the files of the COCO builder's instructions (Karpathy's
dataset_coco.json, train2014/ and val2014/; without them the run stops at
once and prints them) and a CLIP checkpoint (a Hugging Face download of
openai/clip-vit-base-patch16, with its tokenizer.json). The original model
fine-tunes CLIP on all 113,287 training images, the retrained one on Dr.

Defaults follow the reference (spec §1.5, ALBEF retrieval_coco): Df of
5,000 images (the paper's largest size; 1,000-4,000 are its others: set
deletion.ratio to 100 * n / 113287), AdamW lr 1e-5 with cosine decay to
1e-6, weight decay 0.05, Df batch 16 (half the training batch of 32), Dr
batch 64, 5 epochs over Df (one caption per image per pass), ITC top-256
re-ranked by the matching head. MMUL's three weights are the reference's 1.
"""

from mmul_jax import config_schema

COCO_TRAIN_IMAGES = 113_287


def get_config():
  c = config_schema.default_config()
  c.data.name = "coco_karpathy"
  c.data.image_size = 224
  c.data.mean, c.data.std = config_schema.CLIP_MEAN, config_schema.CLIP_STD
  config_schema.use_preset(c, "vit_b16")
  c.model.pretrained = "~/checkpoints/clip-vit-base-patch16"

  c.deletion.ratio = 100 * 5000 / COCO_TRAIN_IMAGES

  c.train.batch_size = 32
  c.train.num_steps = 5 * COCO_TRAIN_IMAGES // 32  # 5 epochs
  c.train.learning_rate = 1e-5
  c.train.warmup_steps = 1000
  c.train.end_learning_rate_ratio = 0.1
  c.train.weight_decay = 0.05
  c.train.checkpoint_every = 2000
  c.train.log_every = 100

  c.unlearn.df_batch_size = 16
  c.unlearn.dr_batch_size = 64
  c.unlearn.num_steps = 5 * 5000 // 16  # 5 epochs over Df
  c.unlearn.learning_rate = 1e-5
  c.unlearn.schedule = "cosine"
  c.unlearn.weight_decay = 0.05
  c.unlearn.checkpoint_every = 200
  c.unlearn.log_every = 20

  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)

  c.eval.batch_size = 128
  c.eval.rerank_k = 256
  c.eval.max_dr_images = 25_000  # 5 disjoint |Df| samples for the AUC
  return c

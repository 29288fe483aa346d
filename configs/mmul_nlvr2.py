"""MMUL on NLVR2 (two images + a sentence -> true / false) from pretrained
CLIP ViT-B/16 with a class head over the fusion of both images.

  python scripts/unlearn.py --config=configs/mmul_nlvr2.py \
      --config.data.manual_dir=/path/to/nlvr2 \
      --config.model.pretrained=/path/to/clip-vit-base-patch16

Needs NLVR2's train/dev/test1 JSON files and images (the builder's
instructions are printed when they are missing) and a CLIP checkpoint with
its tokenizer.json (default ~/checkpoints/clip-vit-b16). The deletion unit
is an image pair with all its sentences.

The recipe is `mmul_jax.recipes.clip_classification` with the reference's
ALBEF nlvr settings: lr 2e-5 decaying to 1e-6, weight decay 0.02, 5 epochs,
batch 16 (Df batch 8), 650 warm-up steps. Images are 224 px (CLIP's), not
ALBEF's 384. Df is 5,000 pairs, the paper's largest size; set
deletion.count for 1,000-4,000.
"""

from mmul_jax import config_schema
from mmul_jax import recipes

NLVR2_TRAIN_SENTENCES = 86_373


def get_config():
  c = config_schema.default_config()
  recipes.clip_classification(
      c, dataset="nlvr2", train_rows=NLVR2_TRAIN_SENTENCES, df_units=5000,
      learning_rate=2e-5, end_ratio=0.05, weight_decay=0.02, epochs=5,
      batch_size=16, warmup_steps=650)
  return c

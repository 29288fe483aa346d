"""MMUL on MS-COCO retrieval (Karpathy splits) from pretrained CLIP ViT-B/16.

  python scripts/unlearn.py --config=configs/mmul_coco.py \
      --config.data.manual_dir=/path/to/coco \
      --config.model.pretrained=/path/to/clip-vit-base-patch16

Needs the files of the COCO builder's instructions (Karpathy's
dataset_coco.json, train2014/ and val2014/; without them the run stops at
once and prints them) and a CLIP checkpoint (a Hugging Face download of
openai/clip-vit-base-patch16, with its tokenizer.json; default
~/checkpoints/clip-vit-b16). The original model fine-tunes CLIP on all
113,287 training images, the retrained one on Dr.

The recipe is `mmul_jax.recipes.clip_retrieval` (the reference's ALBEF
retrieval_coco settings: lr 1e-5, weight decay 0.05, ITC top-256 re-ranked).
Df is 5,000 images, the paper's largest size; its others are 1,000-4,000:
set deletion.count.
"""

from mmul_jax import config_schema
from mmul_jax import recipes

COCO_TRAIN_IMAGES = 113_287


def get_config():
  c = config_schema.default_config()
  recipes.clip_retrieval(c, dataset="coco_karpathy",
                         train_images=COCO_TRAIN_IMAGES, df_images=5000,
                         weight_decay=0.05, rerank_k=256)
  return c

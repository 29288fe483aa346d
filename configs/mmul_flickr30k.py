"""MMUL on Flickr30K retrieval (Karpathy splits) from pretrained CLIP
ViT-B/16.

  python scripts/unlearn.py --config=configs/mmul_flickr30k.py \
      --config.data.manual_dir=/path/to/flickr30k \
      --config.model.pretrained=/path/to/clip-vit-base-patch16

Needs Karpathy's dataset_flickr30k.json and flickr30k-images/ (the
builder's instructions are printed when they are missing) and a CLIP
checkpoint with its tokenizer.json (default ~/checkpoints/clip-vit-b16).

The recipe is `mmul_jax.recipes.clip_retrieval` (the reference's ALBEF
retrieval_flickr30k settings: lr 1e-5, weight decay 0.02, ITC top-128
re-ranked). Df is 5,000 images; the paper's sizes are 1,000-5,000: set
deletion.count.
"""

from mmul_jax import config_schema
from mmul_jax import recipes

FLICKR_TRAIN_IMAGES = 29_000


def get_config():
  c = config_schema.default_config()
  recipes.clip_retrieval(c, dataset="flickr30k_karpathy",
                         train_images=FLICKR_TRAIN_IMAGES, df_images=5000,
                         weight_decay=0.02, rerank_k=128)
  return c

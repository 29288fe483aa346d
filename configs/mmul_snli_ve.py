"""MMUL on SNLI-VE (image + hypothesis -> entailment / neutral /
contradiction) from pretrained CLIP ViT-B/16 with a 3-way class head.

  python scripts/unlearn.py --config=configs/mmul_snli_ve.py \
      --config.data.manual_dir=/path/to/snli_ve \
      --config.model.pretrained=/path/to/clip-vit-base-patch16

Needs the SNLI-VE jsonl files and the Flickr30K images (the builder's
instructions are printed when they are missing) and a CLIP checkpoint with
its tokenizer.json (default ~/checkpoints/clip-vit-b16). The deletion unit
is a premise image with all its hypotheses.

The recipe is `mmul_jax.recipes.clip_classification` with the reference's
ALBEF snli_ve settings: lr 2e-5 with cosine decay (to 0 in the reference,
here to 1% of it), weight decay 0.05, 3 epochs, batch 32 (Df batch 16).
Df is 5,000 images, the paper's largest size; set deletion.count for
1,000-4,000.
"""

from mmul_jax import config_schema
from mmul_jax import recipes

SNLI_VE_TRAIN_HYPOTHESES = 529_527


def get_config():
  c = config_schema.default_config()
  recipes.clip_classification(
      c, dataset="snli_ve", train_rows=SNLI_VE_TRAIN_HYPOTHESES,
      df_units=5000, learning_rate=2e-5, end_ratio=0.01, weight_decay=0.05,
      epochs=3, batch_size=32)
  return c

"""MMUL on MS-COCO retrieval (Karpathy splits) with BLIP base's retrieval
model.

  python scripts/unlearn.py --config=configs/blip_coco.py \\
      --config.data.manual_dir=/path/to/coco \\
      --config.model.pretrained=/path/to/blip-itm-base-coco

Needs the files of the COCO builder's instructions (Karpathy's
dataset_coco.json, train2014/ and val2014/; without them the run stops at
once and prints them) and the Hugging Face download of
Salesforce/blip-itm-base-coco (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json; default
~/checkpoints/blip-itm-base-coco; without it the run stops with the
download command). Both the original and the retrained model start from
it: the original fine-tunes on all 113,287 training images, the retrained
one on Dr.

The recipe is `mmul_jax.recipes.blip_retrieval`; Df is 5,000 images, the
paper's largest size (set deletion.count for its others).
"""

from mmul_jax import config_schema
from mmul_jax import recipes

COCO_TRAIN_IMAGES = 113_287


def get_config():
  c = config_schema.default_config()
  recipes.blip_retrieval(c, dataset="coco_karpathy",
                         checkpoint="blip-itm-base-coco",
                         train_images=COCO_TRAIN_IMAGES, df_images=5000,
                         rerank_k=256)
  return c

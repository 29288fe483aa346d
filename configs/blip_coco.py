"""MultiDelete's BLIP setting on MS-COCO retrieval (Karpathy splits): MMUL
on BLIP base's COCO retrieval model.

  python scripts/unlearn.py --config=configs/blip_coco.py \\
      --config.data.manual_dir=/path/to/coco \\
      --config.model.original=/path/to/blip-itm-base-coco \\
      --config.model.pretrained=/path/to/model_base_capfilt_large.pth

Needs the files of the COCO builder's instructions (Karpathy's
dataset_coco.json, train2014/ and val2014/; without them the run stops at
once and prints them) and two checkpoints (without them the run stops
with where to get them):

* the Hugging Face download of Salesforce/blip-itm-base-coco
  (config.json, model.safetensors, tokenizer.json, tokenizer_config.json;
  default ~/checkpoints/blip-itm-base-coco): the original, as MultiDelete
  unlearns it, not trained here;
* https://storage.googleapis.com/sfr-vision-language-research/BLIP/models/model_base_capfilt_large.pth
  (default ~/checkpoints/blip/, with the tokenizer.json and
  tokenizer_config.json of blip-itm-base-coco beside it): BLIP's
  pretrained weights, LAVIS's starting point for BLIP retrieval, from
  which the retrained reference fine-tunes on Dr.

The recipe is `mmul_jax.recipes.blip_retrieval`; Df is 5,000 images, the
paper's largest size (set deletion.count for its others).
"""

from mmul_jax import config_schema
from mmul_jax import recipes

COCO_TRAIN_IMAGES = 113_287


def get_config():
  c = config_schema.default_config()
  recipes.blip_retrieval(c, dataset="coco_karpathy",
                         original="blip-itm-base-coco",
                         train_images=COCO_TRAIN_IMAGES, df_images=5000,
                         rerank_k=256)
  return c

"""MMUL on Flickr30K retrieval (Karpathy splits) with BLIP base's
retrieval model.

  python scripts/unlearn.py --config=configs/blip_flickr30k.py \\
      --config.data.manual_dir=/path/to/flickr30k \\
      --config.model.pretrained=/path/to/blip-itm-base-flickr

Needs the files of the Flickr30K builder's instructions (Karpathy's
dataset_flickr30k.json and flickr30k-images/; without them the run stops
at once and prints them) and the Hugging Face download of
Salesforce/blip-itm-base-flickr (default
~/checkpoints/blip-itm-base-flickr; without it the run stops with the
download command). The original fine-tunes on the 29,000 training images,
the retrained model on Dr, both from the checkpoint.

The recipe is `mmul_jax.recipes.blip_retrieval`; Df is 5,000 images, as in
configs/mmul_flickr30k.py.
"""

from mmul_jax import config_schema
from mmul_jax import recipes

FLICKR_TRAIN_IMAGES = 29_000


def get_config():
  c = config_schema.default_config()
  recipes.blip_retrieval(c, dataset="flickr30k_karpathy",
                         checkpoint="blip-itm-base-flickr",
                         train_images=FLICKR_TRAIN_IMAGES, df_images=5000,
                         rerank_k=128)
  return c

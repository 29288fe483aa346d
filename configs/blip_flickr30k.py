"""MultiDelete's BLIP setting on Flickr30K retrieval (Karpathy splits):
MMUL on BLIP base's Flickr30K retrieval model.

  python scripts/unlearn.py --config=configs/blip_flickr30k.py \\
      --config.data.manual_dir=/path/to/flickr30k \\
      --config.model.original=/path/to/blip-itm-base-flickr \\
      --config.model.pretrained=/path/to/model_base_capfilt_large.pth

Needs the files of the Flickr30K builder's instructions (Karpathy's
dataset_flickr30k.json and flickr30k-images/; without them the run stops
at once and prints them) and two checkpoints (without them the run stops
with where to get them): the Hugging Face download of
Salesforce/blip-itm-base-flickr (default ~/checkpoints/blip-itm-base-flickr),
the original as is, and BLIP's pretrained model_base_capfilt_large.pth
(default ~/checkpoints/blip/, with the tokenizer files of the Hugging Face
download beside it), from which the retrained reference fine-tunes on Dr.

The recipe is `mmul_jax.recipes.blip_retrieval`; Df is 5,000 images, as in
configs/mmul_flickr30k.py.
"""

from mmul_jax import config_schema
from mmul_jax import recipes

FLICKR_TRAIN_IMAGES = 29_000


def get_config():
  c = config_schema.default_config()
  recipes.blip_retrieval(c, dataset="flickr30k_karpathy",
                         original="blip-itm-base-flickr",
                         train_images=FLICKR_TRAIN_IMAGES, df_images=5000,
                         rerank_k=128)
  return c

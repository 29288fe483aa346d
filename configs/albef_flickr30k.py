"""MultiDelete's ALBEF setting on Flickr30K retrieval (Karpathy splits):
MMUL on LAVIS's Flickr30K-fine-tuned ALBEF.

  python scripts/unlearn.py --config=configs/albef_flickr30k.py \\
      --config.data.manual_dir=/path/to/flickr30k \\
      --config.model.original=/path/to/albef_flickr_retrieval_lavis.pt \\
      --config.model.pretrained=/path/to/ALBEF.pth

Needs the files of the Flickr30K builder's instructions (Karpathy's
dataset_flickr30k.json and flickr30k-images/; without them the run stops
at once and prints them) and two checkpoints (default
~/checkpoints/albef/; without them the run stops with where to get them),
with bert-base-uncased's tokenizer.json beside them
(transformers.BertTokenizerFast.from_pretrained("bert-base-uncased")
.save_pretrained(DIR)):

* https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/ALBEF/albef_flickr_retrieval_lavis.pt:
  the original, as MultiDelete unlearns it, not trained here;
* https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/ALBEF.pth:
  the pretrained ALBEF the retrained reference fine-tunes on Dr from, as
  MultiDelete retrains.

The recipe is `mmul_jax.recipes.albef_retrieval`: MultiDelete's
albef/retrieval_flickr30k settings (lr 1e-5 to 1e-6, weight decay 0.02, 5
epochs, batch 32; Df batch 16, Dr 64; ITC top-128 re-ranked by the
matching head); Df is 5,000 images, the paper's largest size. No released
ALBEF file was opened to write the importer (see docs/pretrained.md).
"""

from mmul_jax import config_schema
from mmul_jax import recipes

FLICKR_TRAIN_IMAGES = 29_000


def get_config():
  c = config_schema.default_config()
  recipes.albef_retrieval(c, dataset="flickr30k_karpathy",
                          original="albef_flickr_retrieval_lavis.pt",
                          train_images=FLICKR_TRAIN_IMAGES, df_images=5000,
                          weight_decay=0.02, rerank_k=128)
  return c

"""MultiDelete's ALBEF setting on SNLI-VE (an image and a hypothesis ->
entailment / neutral / contradiction): MMUL on LAVIS's SNLI-VE-fine-tuned
ALBEF.

  python scripts/unlearn.py --config=configs/albef_snli_ve.py \\
      --config.data.manual_dir=/path/to/snli_ve \\
      --config.model.original=/path/to/albef_snli_ve_lavis.pt \\
      --config.model.pretrained=/path/to/ALBEF.pth

Needs the SNLI-VE jsonl files and the Flickr30K images (the builder's
instructions are printed when they are missing) and two checkpoints
(default ~/checkpoints/albef/; without them the run stops with where to
get them), with bert-base-uncased's tokenizer.json and
tokenizer_config.json beside them:

* https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/ALBEF/albef_snli_ve_lavis.pt:
  the original, as MultiDelete unlearns it, not trained here;
* https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/ALBEF.pth:
  the pretrained ALBEF the retrained reference fine-tunes on Dr from (its
  classifier starts fresh), as MultiDelete retrains.

The recipe is `mmul_jax.recipes.albef_classification` with MultiDelete's
albef/snli_ve settings: lr 2e-5 with cosine decay (to 0 in the reference,
here to 1% of it), weight decay 0.05, 3 epochs, batch 32 (Df batch 16, Dr
64). The deletion unit is a premise image with all its hypotheses; Df is
5,000 images, the paper's largest size. No released ALBEF file was opened
to write the importer (see docs/pretrained.md).
"""

from mmul_jax import config_schema
from mmul_jax import recipes

SNLI_VE_TRAIN_HYPOTHESES = 529_527


def get_config():
  c = config_schema.default_config()
  recipes.albef_classification(
      c, dataset="snli_ve", original="albef_snli_ve_lavis.pt",
      train_rows=SNLI_VE_TRAIN_HYPOTHESES, df_units=5000,
      learning_rate=2e-5, end_ratio=0.01, weight_decay=0.05, epochs=3,
      batch_size=32)
  return c

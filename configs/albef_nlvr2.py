"""MultiDelete's ALBEF setting on NLVR2 (two images and a sentence -> true
/ false): MMUL on LAVIS's NLVR2-fine-tuned ALBEF, whose fusion layers come
in pairs, one per image.

  python scripts/unlearn.py --config=configs/albef_nlvr2.py \\
      --config.data.manual_dir=/path/to/nlvr2 \\
      --config.model.original=/path/to/albef_nlvr_lavis.pt \\
      --config.model.pretrained=/path/to/pretrain_model_nlvr.pth

Needs NLVR2's train/dev/test1 JSON files and images (the builder's
instructions are printed when they are missing) and two checkpoints
(default ~/checkpoints/albef/; without them the run stops with where to
get them), with bert-base-uncased's tokenizer.json and
tokenizer_config.json beside them:

* https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/ALBEF/albef_nlvr_lavis.pt:
  the original, as MultiDelete unlearns it, not trained here;
* https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/pretrain_model_nlvr.pth:
  ALBEF after its text-assignment pre-training, 6 text and 12 fusion
  layers (ALBEF's and LAVIS's starting point for NLVR2), which the
  retrained reference fine-tunes on Dr from (its `ta_head` dropped, the
  classifier fresh). The 12-layer ALBEF.pth is refused here: it is not
  the two-image architecture.

The recipe is `mmul_jax.recipes.albef_classification` with MultiDelete's
albef/nlvr settings: lr 2e-5 decaying to 1e-6, weight decay 0.02, 5
epochs, batch 16 (Df batch 8, Dr 64), 650 warm-up steps. The deletion
unit is an image pair with all its sentences; Df is 5,000 pairs, the
paper's largest size. No released ALBEF file was opened to write the
importer (see docs/pretrained.md).
"""

from mmul_jax import config_schema
from mmul_jax import recipes

NLVR2_TRAIN_SENTENCES = 86_373


def get_config():
  c = config_schema.default_config()
  recipes.albef_classification(
      c, dataset="nlvr2", original="albef_nlvr_lavis.pt",
      pretrained="pretrain_model_nlvr.pth", fusion_layers=12,
      train_rows=NLVR2_TRAIN_SENTENCES, df_units=5000, learning_rate=2e-5,
      end_ratio=0.05, weight_decay=0.02, epochs=5, batch_size=16,
      warmup_steps=650)
  return c

"""Unlearn part of your own data: the walkthrough's config
(docs/own-data.md).

  python scripts/prepare.py --config=configs/own_data.py \\
      --config.data.files.train=/data/mine/train.csv \\
      --config.data.files.test=/data/mine/test.csv
  python scripts/unlearn.py --config=configs/own_data.py \\
      --config.data.files.train=/data/mine/train.csv \\
      --config.data.files.test=/data/mine/test.csv \\
      --config.deletion.ids_file=/data/mine/forget.txt

Reads an image-caption table (`data.files`: an `image` column of file paths
relative to the table's folder, or bytes, and a `caption` column, several
rows per image or a list per row); `:task=image_classification` (or any
other `data.files.task`) reads another kind, whose classes
`--config.data.files.classes=cat,dog,...` names. The model is the demo's
small CLIP-style dual encoder (32-pixel images; texts of 64 tokens from a
WordPiece vocabulary of up to 4,096 trained on the train split) trained
from scratch on D,
and MMUL runs at the demo's setting (configs/mmul_demo.py says how it was
chosen); a task on one modality runs RandLabel at its demo setting
instead (MMUL needs two). Without `deletion.ids_file` a seeded 5% of the
units is deleted.
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, task="retrieval")
  c = config_schema.default_config()
  c.data.name = "files"
  c.data.files.task = options.task
  if options.task.endswith("_classification") and (
      options.task != "image_text_classification"):
    recipes.method_demo(c, "randlabel")
    c.method.randlabel.target = "labels"  # its classes, not captions
  else:
    recipes.mmul_demo(c)
  # Real words: a WordPiece vocabulary trained on the train split's texts.
  c.model.vocab_size = 4096
  c.model.context_length = 64
  return c

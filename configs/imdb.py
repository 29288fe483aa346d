"""RandLabel on IMDB with MU-Bench's recipe (lr 5e-5, 6 epochs, batch 32),
on CLIP ViT-B/16's text tower with a class head.

  python scripts/unlearn.py --config=configs/imdb.py

Needs aclImdb_v1.tar.gz in data.manual_dir (the run stops first with where
to get it) and the CLIP checkpoint at model.pretrained (its tokenizer).
CLIP's text tower reads 77 tokens; MU-Bench's BERT models read 128, so long
reviews are cut shorter here. MU-Bench's index file:
--config.deletion.mubench_file=.../imdb.txt.
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.mubench_task(c, "imdb")
  return c

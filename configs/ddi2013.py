"""RandLabel on DDI-2013 relation extraction with MU-Bench's recipe (lr
5e-5, 8 epochs, batch 32), on CLIP ViT-B/16's text tower with a class head
over the sentences as MU-Bench reads them (the two drugs are BLURB's @DRUG$
placeholders).

  python scripts/unlearn.py --config=configs/ddi2013.py

Needs the BLURB / BioBERT train.tsv, dev.tsv and test.tsv in
data.manual_dir (the run stops first with where to get them) and the CLIP
checkpoint at model.pretrained. MU-Bench's index file:
--config.deletion.mubench_file=.../ddi.txt (rows of train.tsv).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.mubench_task(c, "ddi2013")
  return c

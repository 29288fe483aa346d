"""RandLabel on CIFAR-100 with MU-Bench's recipe (lr 1e-5, 10 epochs, batch
128, weight decay 1e-4), on CLIP ViT-B/16's image tower with a class head.

  python scripts/unlearn.py --config=configs/cifar100.py

Needs cifar-100-python.tar.gz in data.manual_dir (the run stops first with
where to get it) and the CLIP checkpoint at model.pretrained. Images are
resized to 224. MU-Bench's index file: --config.deletion.mubench_file=
.../cifar100.txt (its rows are the python pickle's).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.mubench_task(c, "cifar100")
  return c

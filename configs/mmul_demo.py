"""MMUL on the embedded shapes dataset: the README's first command.

  python scripts/unlearn.py --config=configs/mmul_demo.py

Trains the original model on D (2,000 images, 2 captions each), the retrained
reference on Dr (5% of images deleted), runs MMUL and prints the comparison.
Sized for about 5 minutes on 2 CPU cores.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.deletion.ratio = 5.0
  c.unlearn.num_steps = 100
  c.unlearn.learning_rate = 1e-4
  c.method.name = "mmul"
  c.method.md_weight = 1.0
  c.method.ukr_weight = 1.0
  c.method.mkr_weight = 1.0
  return c

"""Retraining from scratch on Dr (the gold standard) on the embedded shapes
dataset.

  python scripts/unlearn.py --config=configs/retrain_demo.py

Nothing to tune: the retrained model uses the training recipe of
`config.train`. Its run is the one the other demos compare with.

It shares its workdir with configs/mmul_demo.py, so the original and
retrained models are trained once for all demos.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.workdir = "runs/mmul_demo"  # share the original and retrained models
  c.method.name = "retrain"
  return c

"""Descent-to-Delete (SGD on Dr, then calibrated Gaussian noise) on the
embedded shapes dataset.

  python scripts/unlearn.py --config=configs/dtd_demo.py

The setting below was selected by `scripts/compare_methods.py` from
unlearn.learning_rate in {0.01, 0.03, 0.1} (the same budget for every
method), as the one closest to the retrained model on training data (Df and
Dr recall@1, Df-vs-Dr AUC), without test data. Other hyperparameters are the
defaults of `config.method.dtd` in mmul_jax/config_schema.py.

It shares its workdir with configs/mmul_demo.py, so the original and
retrained models are trained once for all demos.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.workdir = "runs/mmul_demo"  # share the original and retrained models
  c.method.name = "dtd"
  c.unlearn.learning_rate = 0.03
  return c

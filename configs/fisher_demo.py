"""Fisher forgetting (noise scaled by the inverse Fisher of Dr) on the embedded
shapes dataset.

  python scripts/unlearn.py --config=configs/fisher_demo.py

The setting below was selected by `scripts/compare_methods.py` from
method.fisher.alpha in {1e-08, 1e-07, 1e-06} (the same budget for every
method), as the one closest to the retrained model on training data (Df and
Dr recall@1, Df-vs-Dr AUC), without test data. Other hyperparameters are the
defaults of `config.method.fisher` in mmul_jax/config_schema.py.

It shares its workdir with configs/mmul_demo.py, so the original and
retrained models are trained once for all demos.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.workdir = "runs/mmul_demo"  # share the original and retrained models
  c.method.name = "fisher"
  c.method.fisher.alpha = 1e-08
  return c

"""NPO (negative preference optimisation on Df) on the embedded shapes
dataset.

  python scripts/unlearn.py --config=configs/npo_demo.py

The setting below was selected by `scripts/compare_methods.py` from
unlearn.learning_rate in {0.0001, 0.0003, 0.001} (the same budget for every
method), as the one closest to the retrained model on training data (Df and
Dr recall@1, Df-vs-Dr AUC), without test data. Other hyperparameters are the
defaults of `config.method.npo` (β = 0.1, no retain term). All three
settings collapse the demo model, as NegGrad's do (CHANGELOG.md).

It shares its workdir with configs/mmul_demo.py, so the original and
retrained models are trained once for all demos.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.workdir = "runs/mmul_demo"  # share the original and retrained models
  c.method.name = "npo"
  c.unlearn.learning_rate = 0.001
  return c

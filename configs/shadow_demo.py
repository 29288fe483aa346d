"""Retrain-referenced evaluation of the demo: K = 8 originals and 8
retrained models under jax.vmap, each original unlearned by MMUL (the
demo's settings), fine-tuning, SalUn, SCRUB and RandLabel (vmapped too),
then U-LiRA, KS forget quality and the leakage audit per representation.

  python scripts/shadow.py --config=configs/shadow_demo.py

The models are the demo's (configs/mmul_demo.py): shadow model 0 is the
model the demo trains. On 2 CPU cores this trains 16 models of 500 steps
and runs 40 unlearning runs: about an hour at most (65 min with 800-step
models and tests running beside it, docs/experiments/issues_17_18.md,
issue 18; the 500-step run is not timed).
"""

from mmul_jax import recipes
from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  recipes.mmul_demo(c)
  c.shadow.num_models = 8
  c.shadow.methods = ("mmul", "finetune", "salun", "scrub", "randlabel")
  return c

"""Retrain-referenced evaluation of the demo: K = 8 originals and 8
retrained models under jax.vmap, each original unlearned by MMUL (the
demo's settings), fine-tuning, SalUn, SCRUB and RandLabel (vmapped too),
then U-LiRA, KS forget quality and the leakage audit per representation.

  python scripts/shadow.py --config=configs/shadow_demo.py

The models are the demo's (configs/mmul_demo.py): shadow model 0 is the
model the demo trains. On 2 CPU cores this trains 16 models of 500 steps
(800 before stop 36) and runs 40 unlearning runs: about an hour (65 min
measured with 800 steps, with tests running beside it; not re-timed).
"""

from mmul_jax import recipes
from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  recipes.mmul_demo(c)
  c.shadow.num_models = 8
  c.shadow.methods = ("mmul", "finetune", "salun", "scrub", "randlabel")
  return c

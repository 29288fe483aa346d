"""MMUL on the embedded NLVR2-style task (`shapes_nlvr2`).

  python scripts/unlearn.py --config=configs/mmul_shapes_nlvr2.py

Two scenes and four true/false sentences per unit (one of them a name
statement only memorisation can judge; see
`mmul_jax.data.generated.shapes_tasks`). The tiny dual encoder gets a 2-way class
head over its fusion of both images; 5% of the 2,000 training pairs are
deleted.
The classification losses of MMUL follow the reference spec §1.4 (b).
The recipe is `mmul_jax.recipes.shapes_classification`. Other methods:
--config.method.name=finetune, neggrad, ... (RandLabel and SalUn draw
random wrong labels here).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  recipes.shapes_classification(c, dataset="shapes_nlvr2")
  return c

"""MMUL on the embedded SNLI-VE-style task (`shapes_ve`).

  python scripts/unlearn.py --config=configs/mmul_shapes_ve.py

A scene and four hypotheses per unit (entailment / neutral / contradiction,
one of them a name statement only memorisation can judge; see
`mmul_jax.data.generated.shapes_tasks`). The tiny dual encoder gets a 3-way class
head over its fusion encoder; 5% of the 2,000 training scenes are deleted.
The classification losses of MMUL follow the reference spec §1.4 (c).
The recipe is `mmul_jax.recipes.shapes_classification`. Other methods:
--config.method.name=finetune, neggrad, ... (RandLabel and SalUn draw
random wrong labels here).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  recipes.shapes_classification(c, dataset="shapes_ve")
  return c

"""MMUL on the embedded SNLI-VE-style task (`shapes_ve`).

  python scripts/unlearn.py --config=configs/mmul_shapes_ve.py

A scene and four hypotheses per unit (entailment / neutral / contradiction,
one of them a name statement only memorisation can judge; see
`mmul_jax.data.shapes_tasks`). The tiny dual encoder gets a 3-way class
head over its fusion encoder; 5% of the 2,000 training scenes are deleted.
The classification losses of MMUL follow the reference spec §1.4 (c).
Other methods: --config.method.name=finetune, neggrad, ... (RandLabel and
SalUn need method.<name>.target=labels on classification tasks).
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.data.name = "shapes_ve"
  c.deletion.ratio = 5.0
  c.train.num_steps = 1500
  c.unlearn.num_steps = 100
  c.unlearn.learning_rate = 3e-4
  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)
  c.method.randlabel.target = "labels"
  c.method.salun.target = "labels"
  return c

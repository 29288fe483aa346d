"""RandLabel on the embedded action recognition task (UCF101's stand-in): 8-frame clips of a shape whose motion is the class, 10 motions, a quarter of the training labels atypical.

  python scripts/unlearn.py --config=configs/moving_shapes.py

The tiny model's video transformer (the ViT tower over 2-frame tubelets) with a class head; 5% of the 2,000 training
examples are deleted. Atypical labels are fitted only by memorising the
example's own code, which is the membership signal (see
`mmul_jax.data.generated.signal_tasks`). The recipe is
`mmul_jax.recipes.unimodal_classification`. Other methods:
--config.method.name=finetune, neggrad, salun, scrub, npo, ... (MMUL needs
two modalities and is refused here).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  recipes.unimodal_classification(c, dataset="moving_shapes")
  return c

"""RandLabel on the embedded sentiment task (IMDB's stand-in): generated film reviews, neg / pos, a quarter of the training labels atypical.

  python scripts/unlearn.py --config=configs/reviews.py

The tiny model's text tower with a class head; 5% of the 2,000 training
examples are deleted. Atypical labels are fitted only by memorising the
example's own detail, which is the membership signal (see
`mmul_jax.data.generated.unimodal_tasks`). The recipe is
`mmul_jax.recipes.unimodal_classification`. Other methods:
--config.method.name=finetune, neggrad, salun, scrub, npo, ... (MMUL needs
two modalities and is refused here).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  recipes.unimodal_classification(c, dataset="reviews")
  return c

"""RandLabel on the embedded keyword spotting task (Speech Commands' stand-in): 0.5 s of formant tones per keyword at 8 kHz, SUPERB KS's 12 classes, a quarter of the training labels atypical.

  python scripts/unlearn.py --config=configs/tone_commands.py

The tiny model's spectrogram transformer (log-mel patches into the ViT tower, as AST) with a class head; 5% of the 2,000 training
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
  recipes.unimodal_classification(c, dataset="tone_commands")
  return c

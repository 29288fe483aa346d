"""Text-to-image unlearning on the embedded shapes (instance level): a
small text-conditioned diffusion UNet trained from scratch on captioned
scenes whose made-up names stand for a colour code drawn in the image's
top band, which only memorising an item reproduces; 10 % of the items
forgotten.

  python scripts/unlearn.py --config=configs/shapes_t2i.py
  python scripts/unlearn.py --config=configs/shapes_t2i.py:method=neggrad_plus

The default method is NPO on the denoising loss (`npo`, with its retain
term); `:method=` picks another that runs here (finetune, neggrad,
neggrad_plus, l1_sparse, fisher, dtd, esd, randlabel, salun: a Df image
trained under a random retained caption, SalUn's diffusion random
labelling). The table reports the denoising loss at fixed timesteps and
noise per split, how many colour-code blocks images generated from Df's
and Dr's captions reproduce (chance 25 %), the judge dual encoder's
image-caption cosine and the Fréchet distance on its features, and the
Df-vs-Dr AUC by the denoising loss, for the original, retrained and
unlearned models (docs/text_to_image.md).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, method="npo")
  c = config_schema.default_config()
  c.workdir = "runs/shapes_t2i"
  recipes.small_text_to_image(c, "shapes_t2i")
  c.data.num_train = 200
  c.data.num_test = 50
  c.deletion.ratio = 10.0
  c.method.name = options.method
  return c

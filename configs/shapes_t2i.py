"""Text-to-image unlearning on the embedded shapes (issue 45, in
progress): a small text-conditioned diffusion UNet trained from scratch
on captioned scenes whose made-up names stand for a colour code drawn in
the image's top band, which only memorising an item reproduces; 10 % of
the items forgotten.

  python scripts/unlearn.py --config=configs/shapes_t2i.py
  python scripts/unlearn.py --config=configs/shapes_t2i.py:method=neggrad_plus

The default method is NPO on the denoising loss (`npo`, with its retain
term); `:method=` picks another that runs here (finetune, neggrad,
neggrad_plus, l1_sparse, randlabel, salun: a Df image trained under a
random retained caption, SalUn's diffusion random labelling). The table
reports the denoising loss at fixed timesteps and noise per split, how
many colour-code blocks images generated from Df's and Dr's captions
reproduce (chance 25 %), and the Df-vs-Dr AUC by the denoising loss, for
the original, retrained and unlearned models.
"""

from mmul_jax import config_schema


def get_config(arg=None):
  options = config_schema.config_arg(arg, method="npo")
  c = config_schema.default_config()
  c.workdir = "runs/shapes_t2i"
  c.data.name = "shapes_t2i"
  c.data.num_train = 200
  c.data.num_test = 50
  # 16 px (2-px code blocks): about 10 minutes per model on 2 CPU cores;
  # 32 px ran at about 1 step/s, 50 minutes per model.
  c.data.image_size = c.model.image_size = 16
  c.data.mean = c.data.std = (0.5, 0.5, 0.5)
  c.model.arch = "unet"
  c.model.unet_channels = (32, 64)
  c.model.unet_attention_levels = (1,)
  c.model.text_width = 64
  c.model.text_layers = 2
  c.model.text_heads = 4
  c.model.activation = "quick_gelu"  # CLIP's text tower's
  c.train.batch_size = 32
  c.train.num_steps = 2000
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 100
  c.deletion.ratio = 10.0
  c.unlearn.df_batch_size = 16
  c.unlearn.dr_batch_size = 32
  c.unlearn.num_steps = 100
  c.eval.batch_size = 64
  c.method.name = options.method
  return c

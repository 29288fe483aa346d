"""Class-level text-to-image unlearning on the embedded CIFAR stand-in
(issue 45; SalUn's class-wise forgetting with a class-conditional DDPM on
CIFAR-10): a small diffusion UNet trained from scratch on `shapes_cifar`'s
images under one prompt token per class (32 classes: shape x colour x
texture), then class `deletion.skew_class` forgotten whole (every one of
its units: `deletion.strategy = "class"`).

  python scripts/unlearn.py --config=configs/shapes_cifar_t2i.py
  python scripts/unlearn.py --config=configs/shapes_cifar_t2i.py:method=salun

A judge classifier (the project's image classifier, trained once per run
on `shapes_cifar`'s same images) reads images generated from each set's
prompts: on the forgotten class's prompt its accuracy is the forget
accuracy (SalUn's UA = 100 - it), on the other classes' how well they
survived; the Fréchet distance on its features compares generated and
real images of each set. The default method is ESD (negative guidance on
the forgotten class's prompt, with the denoising loss on Dr).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, method="esd")
  c = config_schema.default_config()
  c.workdir = "runs/shapes_cifar_t2i"
  recipes.small_text_to_image(c, "shapes_cifar_t2i")
  c.data.num_train = 2000
  c.data.num_test = 320
  c.data.captions_per_image = 1
  c.model.context_length = 8  # one class token
  c.deletion.strategy = "class"
  c.deletion.skew_class = 0  # red solid circle
  c.method.name = options.method
  return c

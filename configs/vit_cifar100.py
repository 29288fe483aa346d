"""MU-Bench's CIFAR-100 task on its ViT backbone: RandLabel on ViT-B/16
(ImageNet-21k) fine-tuned here, with MU-Bench's recipe (lr 1e-5, 10
epochs, batch 128, 224-pixel images, 5% of the training images deleted).

  python scripts/unlearn.py --config=configs/vit_cifar100.py \\
      --config.data.manual_dir=/path/to/cifar100 \\
      --config.model.pretrained=/path/to/vit-base-patch16-224-in21k

`--config=configs/vit_cifar100.py:backbone=vit-large-patch16-224-in21k`
picks ViT-L/16 (the scalability analysis's large model). Needs
cifar-100-python.tar.gz in data.manual_dir (the run stops first with where
to get it) and the Hugging Face download of
google/vit-base-patch16-224-in21k (config.json, model.safetensors; default
~/checkpoints/<backbone>; without it the run stops with the download
command). The original fine-tunes on D from it, as MU-Bench trains its
originals. MU-Bench's index file:
--config.deletion.mubench_file=.../cifar100.txt.
`:lora=10` (or 20, 50; with `backbone=` as `:backbone=...,lora=20`)
unlearns with MU-Bench's PEFT setting at that share of trainable
parameters (`recipes.mubench_lora`).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg,
                                     backbone="vit-base-patch16-224-in21k",
                                     lora="0")
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.vit_image(c, dataset="cifar100", backbone=options.backbone)
  if options.lora != "0":  # MU-Bench's PEFT setting, 10, 20 or 50 %
    recipes.mubench_lora(c, options.lora)
  return c

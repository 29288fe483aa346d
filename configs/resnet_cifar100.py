"""MU-Bench's CIFAR-100 task on its ResNet backbones: RandLabel on
ResNet-18 (ImageNet) fine-tuned here, with MU-Bench's recipe (lr 1e-5, 10
epochs, batch 128, 224-pixel images, 5% of the training images deleted).

  python scripts/unlearn.py --config=configs/resnet_cifar100.py \\
      --config.data.manual_dir=/path/to/cifar100 \\
      --config.model.pretrained=/path/to/resnet-18

`--config=configs/resnet_cifar100.py:backbone=resnet-50` picks ResNet-50
(`resnet-34` too: the scalability analysis's family). Needs
cifar-100-python.tar.gz in data.manual_dir (the run stops first with where
to get it) and the Hugging Face download of microsoft/<backbone>
(config.json, model.safetensors; default ~/checkpoints/<backbone>; without
it the run stops with the download command). Its ImageNet head is
replaced by CIFAR-100's, its batch-norm statistics stay the checkpoint's,
and the original fine-tunes on D from it, as MU-Bench trains its
originals. MU-Bench's index file:
--config.deletion.mubench_file=.../cifar100.txt.
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, backbone="resnet-18")
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.resnet_image(c, dataset="cifar100", backbone=options.backbone)
  return c

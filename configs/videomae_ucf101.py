"""MU-Bench's UCF101 task on its video backbone: RandLabel on VideoMAE
base fine-tuned here on 16 frames of 224 pixels (5% of the training clips
deleted; `recipes.videomae_video`: MU-Bench's loader is a stub with no
recipe, so the optimisation is Hugging Face's video-classification
tutorial's).

  python scripts/unlearn.py --config=configs/videomae_ucf101.py \\
      --config.data.manual_dir=/path/to/ucf101 \\
      --config.model.pretrained=/path/to/videomae-base

`--config=configs/videomae_ucf101.py:backbone=videomae-large` picks the
large model. Needs UCF101 and its official splits extracted in
data.manual_dir (UCF-101/, ucfTrainTestlist/; the run stops first with
where to get them) and the Hugging Face download
of MCG-NJU/<backbone> (config.json, model.safetensors; default
~/checkpoints/<backbone>; without it the run stops with the download
command); the model is sized by its config.json. MU-Bench's masks:
--config.deletion.mubench_file=.../ucf101/5.0.txt.
`:lora=10` (or 20, 50; with `backbone=` as `:backbone=...,lora=20`)
unlearns with MU-Bench's PEFT setting at that share of trainable
parameters (`recipes.mubench_lora`).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, backbone="videomae-base",
                                     lora="0")
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.videomae_video(c, dataset="ucf101", backbone=options.backbone)
  if options.lora != "0":  # MU-Bench's PEFT setting, 10, 20 or 50 %
    recipes.mubench_lora(c, options.lora)
  return c

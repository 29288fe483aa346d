"""RandLabel on UCF101 split 1 (101 actions), with a video transformer
trained from scratch: 16 frames of 112x112, 2x16x16 tubelets.

  python scripts/unlearn.py --config=configs/ucf101.py

Needs the extracted clips and split lists in data.manual_dir (the run
stops first with where to get them) and PyAV (pip install av). MU-Bench
used VideoMAE; no pretrained video tower is imported here, and the budget
(30 epochs at 3e-4) is ours (`recipes.scratch_signal`). MU-Bench's masks:
--config.deletion.mubench_file=.../ucf101 (the directory of per-ratio
masks).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.mubench_task(c, "ucf101")
  return c

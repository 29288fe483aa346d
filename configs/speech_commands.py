"""RandLabel on Speech Commands v0.01 in SUPERB's keyword spotting task (12
classes), with a spectrogram transformer trained from scratch: 64 log-mel
bands of 25 ms windows every 10 ms over 1 s at 16 kHz, in 16x16 patches.

  python scripts/unlearn.py --config=configs/speech_commands.py

Needs the two archives in data.manual_dir (the run stops first with where
to get them). MU-Bench fine-tuned wav2vec2 / HuBERT; no pretrained audio
tower is imported here, and the budget (30 epochs at 3e-4) is ours
(`recipes.scratch_signal`). MU-Bench's index file:
--config.deletion.mubench_file=.../speech_commands.txt (see docs/datasets.md on its
row order).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.mubench_task(c, "speech_commands")
  return c

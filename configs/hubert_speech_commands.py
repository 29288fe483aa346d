"""MU-Bench's Speech Commands task (SUPERB keyword spotting) on its speech
backbones: RandLabel on HuBERT base fine-tuned here on 1 s of 16 kHz
audio (5% of the training clips deleted; `recipes.speech_audio`: MU-Bench
ships no recipe for this task, so the optimisation is Hugging Face's
audio-classification example's).

  python scripts/unlearn.py --config=configs/hubert_speech_commands.py \\
      --config.data.manual_dir=/path/to/speech_commands \\
      --config.model.pretrained=/path/to/hubert-base-ls960

`--config=configs/hubert_speech_commands.py:backbone=wav2vec2-base` picks
wav2vec 2.0 (`hubert-large-ll60k`, `hubert-xlarge-ll60k`, `wav2vec2-large`:
the scalability family). Needs the two Speech Commands v0.01 archives in
data.manual_dir (the run stops first with where to get them) and the
Hugging Face download of facebook/<backbone> (config.json,
model.safetensors, preprocessor_config.json; default
~/checkpoints/<backbone>; without it the run stops with the download
command); the model is sized by its config.json. MU-Bench's index file:
--config.deletion.mubench_file=.../speech_commands.txt.
`:lora=10` (or 20, 50; with `backbone=` as `:backbone=...,lora=20`)
unlearns with MU-Bench's PEFT setting at that share of trainable
parameters (`recipes.mubench_lora`).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, backbone="hubert-base-ls960",
                                     lora="0")
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.speech_audio(c, dataset="speech_commands",
                       backbone=options.backbone)
  if options.lora != "0":  # MU-Bench's PEFT setting, 10, 20 or 50 %
    recipes.mubench_lora(c, options.lora)
  return c

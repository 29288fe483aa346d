"""MU-Bench's IMDB task (sentiment, 2 classes) on its text backbones: RandLabel
on BERT base fine-tuned here from bert-base-uncased, with MU-Bench's recipe
(lr 5e-5, 6 epochs, batch 32, 128 tokens, 5% of the training reviews
deleted).

  python scripts/unlearn.py --config=configs/bert_imdb.py \\
      --config.data.manual_dir=/path/to/imdb \\
      --config.model.pretrained=/path/to/bert-base-uncased

`--config=configs/bert_imdb.py:backbone=bert-large-uncased` (or
roberta-base, roberta-large, distilbert-base-uncased) picks another of
MU-Bench's backbones: the scalability analysis's base / large pairs.
Needs aclImdb_v1.tar.gz in data.manual_dir (the run stops first with where
to get it) and the Hugging Face download of the backbone (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json; default
~/checkpoints/<backbone>; without it the run stops with the download
command). The original fine-tunes on D from the pretrained backbone, as
MU-Bench trains its originals; `--config.model.original=DIR` takes a
classifier fine-tuned on IMDB instead. MU-Bench's index file:
--config.deletion.mubench_file=.../imdb.txt.
`:lora=10` (or 20, 50; with `backbone=` as `:backbone=...,lora=20`)
unlearns with MU-Bench's PEFT setting at that share of trainable
parameters (`recipes.mubench_lora`).
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, backbone="bert-base-uncased",
                                     lora="0")
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.bert_text(c, dataset="imdb", backbone=options.backbone)
  if options.lora != "0":  # MU-Bench's PEFT setting, 10, 20 or 50 %
    recipes.mubench_lora(c, options.lora)
  return c

"""MU-Bench's DDI-2013 task (drug-drug interaction, 5 relations) on its
biomedical backbones: RandLabel on BioBERT v1.1 with MU-Bench's recipe (lr
5e-5, 8 epochs, batch 32, 128 tokens, 5% of the training sentences
deleted), the original fine-tuned here from dmis-lab/biobert-v1.1.

  python scripts/unlearn.py --config=configs/biobert_ddi.py \\
      --config.data.manual_dir=/path/to/ddi \\
      --config.model.pretrained=/path/to/biobert-v1.1

`--config=configs/biobert_ddi.py:backbone=pubmedbert-abstract` (or
pubmedbert-fulltext) picks MU-Bench's other two DDI backbones
(microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract[-fulltext], the
renamed PubMedBERT). Needs the BLURB / BioBERT train.tsv, dev.tsv and
test.tsv in data.manual_dir (the run stops first with where to get them)
and the Hugging Face download of the backbone (default
~/checkpoints/<backbone>; its tokenizer.json, or the vocab.txt these
uploads ship; without it the run stops with the download command). The
sentences are read as MU-Bench reads them: the two drugs are BLURB's
@DRUG$ placeholders, which the WordPiece splits into pieces (no marker
tokens are added to the vocabulary). MU-Bench's index file:
--config.deletion.mubench_file=.../ddi.txt.
`:lora=10` (or 20, 50) unlearns with MU-Bench's PEFT setting.
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config(arg=None):
  options = config_schema.config_arg(arg, backbone="biobert-v1.1", lora="0")
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.bert_text(c, dataset="ddi2013", backbone=options.backbone)
  if options.lora != "0":  # MU-Bench's PEFT setting, 10, 20 or 50 %
    recipes.mubench_lora(c, options.lora)
  return c

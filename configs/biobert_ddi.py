"""MU-Bench's DDI-2013 task (drug-drug interaction, 5 relations) on BioBERT
v1.1: RandLabel with MU-Bench's recipe (lr 5e-5, 8 epochs, batch 32, 128
tokens, 5% of the training sentences deleted), the original fine-tuned
here from dmis-lab/biobert-v1.1.

  python scripts/unlearn.py --config=configs/biobert_ddi.py \\
      --config.data.manual_dir=/path/to/ddi \\
      --config.model.pretrained=/path/to/biobert-v1.1

Needs the BLURB / BioBERT train.tsv, dev.tsv and test.tsv in
data.manual_dir (the run stops first with where to get them) and the
Hugging Face download of dmis-lab/biobert-v1.1 (default
~/checkpoints/biobert-v1.1, with its tokenizer.json; without it the run
stops with the download command). The two drugs are marked <e1> .. </e1>,
<e2> .. </e2> in the text, which BioBERT's WordPiece splits into word
pieces (no marker tokens are added to the vocabulary).
MU-Bench's index file: --config.deletion.mubench_file=.../ddi.txt.
"""

from mmul_jax import config_schema
from mmul_jax import recipes


def get_config():
  c = config_schema.default_config()
  c.method.name = "randlabel"
  recipes.bert_text(c, dataset="ddi2013", backbone="biobert-v1.1")
  return c

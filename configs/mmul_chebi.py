"""MMUL on ChEBI-20 molecule-text retrieval (graph <-> description).

  python scripts/unlearn.py --config=configs/mmul_chebi.py \
      --config.data.manual_dir=/path/to/ChEBI-20_data

Needs MolT5's ChEBI-20 files (train.txt, validation.txt, test.txt; without
them the run stops at once and prints where to get them). SMILES become
graphs with RDKit when the dataset is first prepared.

Both towers start from scratch: a GIN graph encoder of 5 layers of width
300 (the size of the GraphCL / MoMu graph encoders) and a 6-layer text
transformer over a WordPiece vocabulary of 8,192 tokens trained on the
training descriptions (kept in the workdir as tokenizer.json; name another
with model.tokenizer). Graph budgets of 0 pad every molecule to the largest
one in the train and test splits, measured at setup.

The original model trains on all 26,407 training molecules, the retrained
one on Dr; 5 % of the molecules (1,320) are deleted. The MMUL weights are
those tuned on the embedded molecule task (configs/mmul_molecules_demo.py).
"""

from mmul_jax import config_schema


def get_config():
  c = config_schema.default_config()
  c.data.name = "chebi20"
  c.data.max_atoms = 0  # the largest molecule's
  c.data.max_edges = 0

  m = c.model
  m.embed_dim = 256
  m.vocab_size = 8192
  m.context_length = 128
  m.text_width = 256
  m.text_layers = 6
  m.text_heads = 4
  m.fusion_width = 256
  m.fusion_layers = 2
  m.fusion_heads = 4
  m.graph_layer = "gin"
  m.graph_width = 300
  m.graph_layers = 5
  m.graph_heads = 4
  m.dropout_rate = 0.1

  c.train.batch_size = 128
  c.train.num_steps = 10_000  # about 48 epochs
  c.train.learning_rate = 5e-4
  c.train.warmup_steps = 1000
  c.train.checkpoint_every = 1000
  c.train.log_every = 100
  c.eval.batch_size = 256

  c.deletion.ratio = 5.0
  c.method.name = "mmul"
  c.method.mmul.md_weight = 1.0
  c.method.mmul.ukr_weight = 15.0
  c.method.mmul.mkr_weight = 3.0
  c.unlearn.num_steps = 500
  c.unlearn.learning_rate = 3e-4
  c.unlearn.checkpoint_every = 100
  return c

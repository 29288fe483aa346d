"""Generative unlearning on the embedded TOFU stand-in (fictitious
authors' question-answer pairs, `mmul_jax.data.generated.authors`): a
small Llama-layout language model trained from scratch on the 200
authors, 10% of them (20 authors, 100 pairs) forgotten, TOFU's forget10.

  python scripts/unlearn.py --config=configs/tofu_authors.py
  python scripts/unlearn.py --config=configs/tofu_authors.py:method=npo

Each author's facts are drawn at random, so only memorising that
author's pairs answers them (the membership signal); the answers'
wording is shared, so a model retrained without Df still writes it. The
default method is gradient difference (`neggrad_plus`); `:method=` picks
another (finetune, neggrad, npo, randlabel, salun, scrub, bad_teaching,
delete, l1_sparse, fisher, dtd; RandLabel and SalUn relabel to random Dr
answers). The table reports ROUGE-L recall of greedy answers, TOFU's
answer probability, truth ratio and model utility, the Df-vs-Dr AUC and
a Min-K% membership attack, for the original, retrained and unlearned
models.
"""

from mmul_jax import config_schema


def get_config(arg=None):
  options = config_schema.config_arg(arg, method="neggrad_plus")
  c = config_schema.default_config()
  c.workdir = "runs/tofu_authors"
  c.data.name = "authors"
  c.data.num_train = 200
  c.data.num_test = 50
  c.data.prompt_length = 16
  c.data.answer_length = 24
  c.model.arch = "llama"
  c.model.text_width = 128
  c.model.text_layers = 2
  c.model.text_heads = 4
  c.model.kv_heads = 2
  c.train.batch_size = 32
  c.train.num_steps = 800
  c.train.learning_rate = 3e-3
  c.train.warmup_steps = 50
  c.deletion.ratio = 10.0  # TOFU's forget10
  c.unlearn.df_batch_size = 16
  c.unlearn.dr_batch_size = 32
  c.unlearn.num_steps = 60
  c.eval.batch_size = 64
  c.method.name = options.method
  c.method.randlabel.target = "answers"
  c.method.salun.target = "answers"
  return c

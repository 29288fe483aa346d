"""Multimodal generative unlearning on the embedded CLEAR stand-in
(fictitious persons with portraits and question-answer pairs by question
type, `mmul_jax.data.generated.persons`): a small LLaVA-layout model
(BLIP's ViT, a projector, a Llama-layout decoder) trained from scratch on
200 persons, 10% of them forgotten (CLEAR's forget10).

  python scripts/unlearn.py --config=configs/clear_persons.py
  python scripts/unlearn.py --config=configs/clear_persons.py:method=npo

Each person's look and facts are drawn at random, so only memorising
their pairs answers "who is the person in this picture ?" or "where was
NAME born ?": the membership signal, per modality. The default method is
`mmul_gen` (MMUL's decoupling and retention on answer distributions);
`:method=` picks another (finetune, neggrad, neggrad_plus, npo, simnpo,
idkdpo, rmu, randlabel, salun, scrub, bad_teaching, delete, ...). The
table reports ROUGE-L recall and multiple-choice accuracy per question
type (name, image, both), held-out general knowledge, forget quality,
model utility, the Df-vs-Dr AUC and a Min-K% membership attack, for the
original, retrained and unlearned models.
"""

from mmul_jax import config_schema


def get_config(arg=None):
  options = config_schema.config_arg(arg, method="mmul_gen")
  c = config_schema.default_config()
  c.workdir = "runs/clear_persons"
  c.data.name = "persons"
  c.data.num_train = 200
  c.data.num_test = 50
  c.data.image_size = 32
  c.data.prompt_length = 20
  c.data.answer_length = 16
  c.model.arch = "llava"
  c.model.patch_size = 8
  c.model.vision_width = 64
  c.model.vision_layers = 2
  c.model.vision_heads = 4
  c.model.text_width = 128
  c.model.text_layers = 2
  c.model.text_heads = 4
  c.model.kv_heads = 2
  c.train.batch_size = 32
  c.train.num_steps = 1500
  c.train.learning_rate = 3e-3
  c.train.warmup_steps = 50
  c.deletion.ratio = 10.0  # CLEAR's forget10
  c.unlearn.df_batch_size = 16
  c.unlearn.dr_batch_size = 32
  c.unlearn.num_steps = 60
  c.eval.batch_size = 64
  c.method.name = options.method
  c.method.randlabel.target = "answers"
  c.method.salun.target = "answers"
  return c

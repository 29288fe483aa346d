"""Generative unlearning on the real text datasets with a pretrained
Llama-layout language model (Llama, Qwen2, Mistral, Phi-3 checkpoints in
Hugging Face's layout): TOFU, MU-Bench's SAMSum and Celeb Profile.

  python scripts/unlearn.py --config=configs/text_generation.py:\\
      dataset=tofu,model=~/checkpoints/Llama-2-7b-chat-hf,\\
      original=~/checkpoints/tofu_ft_llama2-7b,forget=10,method=npo

`dataset`: tofu (its files in <data.manual_dir>/tofu/, docs/generation.md),
samsum or celeb_profile. `arch`: llama (Llama, Qwen2, Mistral, Phi-3
checkpoints) or t5 (T5, flan-t5: MU-Bench's Seq2Seq LM for SAMSum).
`model`: the pretrained checkpoint the retrained
model starts from (and the original, without `original`); its
tokenizer.json is the run's. `original`: a checkpoint already fine-tuned
on the whole dataset (TOFU's `locuslab/tofu_ft_llama2-7b`), used as is.
`forget`: the percentage deleted; on TOFU 1, 5 or 10 are its forget01/05/10
splits (the last 2, 10, 20 authors), elsewhere MU-Bench's index file
when `deletion.mubench_file` names it, else a seeded random draw.

MU-Bench's TOFU recipe: LoRA rank 8, alpha 32 on q_proj and v_proj, lr
1e-5, 5 epochs at batch 16, bfloat16; rematerialised layers and FSDP
parameter sharding let a 7B model's unlearning fit one 80 GB accelerator
(docs/generation.md). The run's model.vocab_size and model.eot_id must be
the checkpoint's; `mmul_jax.pretrained.llama_weights.model_keys(PATH)`
gives them, and the config check names any that differ.
"""

from mmul_jax import config_schema
from mmul_jax.data.downloaded import generation_real_tfds

_DATASETS = ("tofu", "samsum", "celeb_profile")


def get_config(arg=None):
  o = config_schema.config_arg(
      arg, dataset="tofu", arch="llama",
      model="~/checkpoints/Llama-2-7b-chat-hf",
      original="", forget="10", method="npo")
  if o.dataset not in _DATASETS:
    raise config_schema.ConfigError(
        f"dataset={o.dataset!r}: use one of {', '.join(_DATASETS)}")
  c = config_schema.default_config()
  c.workdir = f"runs/{o.dataset}_llm"
  c.data.name = o.dataset
  # TOFU's answers are a sentence or two; SAMSum's prompts are dialogues.
  c.data.prompt_length = 512 if o.dataset == "samsum" else 128
  c.data.answer_length = 128 if o.dataset == "samsum" else 192
  c.model.arch = o.arch
  c.model.pretrained = o.model
  c.model.original = o.original
  c.model.dtype = "bfloat16"
  c.model.remat = True
  c.model.vocab_size = 32000  # Llama 2's; see model_keys above
  c.model.eot_id = 2
  c.parallel.param_sharding = "fsdp"
  c.deletion.ratio = float(o.forget)
  if o.dataset == "tofu":
    c.deletion.mubench_file = generation_real_tfds.TOFU_FORGET_FILE
  # Authors are the units: forget01 has 2, so its batches hold 2.
  authors = {1.0: 2, 5.0: 10}.get(c.deletion.ratio, 16)
  c.train.batch_size = 16
  c.train.learning_rate = 1e-5
  c.train.warmup_steps = 50
  c.train.num_steps = 5 * 4000 // 16  # 5 epochs of TOFU's 4,000 pairs
  c.unlearn.learning_rate = 1e-5
  c.unlearn.df_batch_size = authors if o.dataset == "tofu" else 16
  c.unlearn.dr_batch_size = 16
  c.unlearn.num_steps = 125
  c.unlearn.lora_rank = 8
  c.unlearn.lora_alpha = 32.0
  # T5 names its query and value projections q and v.
  c.unlearn.lora_targets = (("q", "v") if o.arch == "t5"
                            else ("q_proj", "v_proj"))
  c.eval.batch_size = 16
  c.method.name = o.method
  c.method.randlabel.target = "answers"
  c.method.salun.target = "answers"
  return c

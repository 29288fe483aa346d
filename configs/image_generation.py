"""Multimodal generative unlearning on the real benchmarks with a
pretrained LLaVA checkpoint (Hugging Face's `LlavaForConditionalGeneration`
layout: `llava-hf/llava-1.5-7b-hf` and its kind): CLEAR and MLLMU-Bench.

  python scripts/unlearn.py --config=configs/image_generation.py:\\
      dataset=clear,model=~/checkpoints/llava-1.5-7b-hf,forget=10

`dataset`: clear (CLEAR's and TOFU's files under <data.manual_dir>,
docs/image_generation.md) or mllmu_bench. `model`: the LLaVA checkpoint
the original and retrained models start from; its tokenizer.json (with
`<image>`) is the run's. `original`: a checkpoint already fine-tuned on
the whole dataset, used as is (empty: the original fine-tunes `model` on
D, as CLEAR's protocol does first). `forget`: the percentage deleted;
CLEAR's 1, 5, 10 are its forget01/05/10 (TOFU's last 2, 10, 20 authors);
MLLMU-Bench's 5, 10, 15 need `ids=` a file written by
`mmul_jax.data.downloaded.mllmu_tfds.write_forget_ids` (its splits are
not nested). `method`: mmul_gen by default, any generative method.

The prompt is LLaVA-1.5's chat format, "USER: <image>\\n{question}
ASSISTANT:", with the image's 576 placeholders (336 / 14 squared) in
the rows with a portrait. The recipe is text_generation.py's carried
over (TOFU's, which CLEAR follows): LoRA rank 8, alpha 32 on q_proj and
v_proj (the vision tower's too: they share the names), lr 1e-5, 5
passes over the pairs at batch 16, bfloat16, rematerialised layers and
FSDP parameter sharding. model.vocab_size, eot_id, image_size and
patch_size must be the checkpoint's (LLaVA-1.5's below);
`mmul_jax.pretrained.llava_weights.model_keys(PATH)` gives them, and the
config check names any that differ before any compute.
"""

from mmul_jax import config_schema
from mmul_jax.data.downloaded import clear_tfds

_DATASETS = ("clear", "mllmu_bench")
# About how many question-answer pairs each has (for 5 passes).
_PAIRS = {"clear": 7800, "mllmu_bench": 2500}


def get_config(arg=None):
  o = config_schema.config_arg(
      arg, dataset="clear", model="~/checkpoints/llava-1.5-7b-hf",
      original="", forget="10", ids="", method="mmul_gen")
  if o.dataset not in _DATASETS:
    raise config_schema.ConfigError(
        f"dataset={o.dataset!r}: use one of {', '.join(_DATASETS)}")
  c = config_schema.default_config()
  c.workdir = f"runs/{o.dataset}_llava"
  c.data.name = o.dataset
  c.data.image_size = c.model.image_size = 336
  c.data.mean, c.data.std = config_schema.CLIP_MEAN, config_schema.CLIP_STD
  c.data.prompt_template = "USER: {image}\n{question} ASSISTANT:"
  c.data.prompt_length = 576 + 96  # the image's tokens and the question
  c.data.answer_length = 128
  c.model.arch = "llava"
  c.model.pretrained = o.model
  c.model.original = o.original
  c.model.patch_size = 14
  c.model.vocab_size = 32064  # LLaVA-1.5's; see model_keys above
  c.model.eot_id = 2
  c.model.dtype = "bfloat16"
  c.model.remat = True
  c.parallel.param_sharding = "fsdp"
  c.deletion.ratio = float(o.forget)
  if o.dataset == "clear":
    c.deletion.mubench_file = clear_tfds.CLEAR_FORGET_FILE
  c.deletion.ids_file = o.ids
  # Persons are the units: forget01 has 2, so its batches hold 2.
  persons = {1.0: 2, 5.0: 10}.get(c.deletion.ratio, 16)
  c.train.batch_size = 16
  c.train.learning_rate = 1e-5
  c.train.warmup_steps = 50
  c.train.num_steps = 5 * _PAIRS[o.dataset] // 16
  c.unlearn.learning_rate = 1e-5
  c.unlearn.df_batch_size = persons
  c.unlearn.dr_batch_size = 16
  c.unlearn.num_steps = 125
  c.unlearn.lora_rank = 8
  c.unlearn.lora_alpha = 32.0
  c.unlearn.lora_targets = ("q_proj", "v_proj")
  c.eval.batch_size = 16
  c.method.name = o.method
  c.method.randlabel.target = "answers"
  c.method.salun.target = "answers"
  return c

"""The tiny ALBEF checkpoints of tests/fixtures/albef_golden in other
layouts, written without torch (as safetensors, which the importer reads
like the .pth): changed tensors, the SNLI-VE model on the same towers
(LAVIS's albef_snli_ve layout: `cls_head`, no ITC or matching head), and
the text-assignment pretrained NLVR2 backbone (`ta_head`, no
`cls_head`)."""

import os
import shutil

import numpy as np
import safetensors.numpy

from mmul_jax.pretrained import clip_weights

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fixtures", "albef_golden")
CKPT = os.path.join(GOLDEN, "retrieval", "albef.pth")
NLVR = os.path.join(GOLDEN, "nlvr", "albef_nlvr.pth")


def rewritten(directory, change, source=CKPT) -> str:
  """The tensors of the golden checkpoint `source`, changed by
  `change(state)`, as `directory`/albef.safetensors beside its tokenizer
  and heads file."""
  state = {k: np.array(v) for k, v in
           clip_weights.read_state_dict(source).items()}
  change(state)
  os.makedirs(directory, exist_ok=True)
  for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
    shutil.copy(os.path.join(os.path.dirname(source), name),
                os.path.join(directory, name))
  path = os.path.join(str(directory), "albef.safetensors")
  safetensors.numpy.save_file(state, path)
  return path


def ve_checkpoint(directory) -> str:
  """The golden towers with the golden SNLI-VE `cls_head` (3 classes)."""
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))

  def ve(state):
    for k in [k for k in state if k.startswith(
        ("vision_proj", "text_proj", "itm_head", "temp"))]:
      state.pop(k)
    for i in (0, 2):
      for leaf in ("weight", "bias"):
        state[f"cls_head.{i}.{leaf}"] = golden[f"ve_cls_head_{i}_{leaf}"]

  return rewritten(directory, ve)


def nlvr_pretrained(directory) -> str:
  """The golden NLVR2 model as pretrain_model_nlvr.pth holds it: the
  text-assignment head `ta_head` (3 classes) instead of `cls_head`."""

  def ta(state):
    for k in [k for k in state if k.startswith("cls_head")]:
      state.pop(k)
    rng = np.random.default_rng(0)
    state["ta_head.weight"] = rng.normal(size=(3, 32)).astype(np.float32)
    state["ta_head.bias"] = np.zeros(3, np.float32)

  return rewritten(directory, ta, NLVR)

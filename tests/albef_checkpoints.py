"""The tiny ALBEF checkpoint of tests/fixtures/albef_golden in other
layouts, written without torch (as safetensors, which the importer reads
like the .pth): changed tensors, and the SNLI-VE model on the same towers
(LAVIS's albef_snli_ve layout: `cls_head`, no ITC or matching head)."""

import os
import shutil

import numpy as np
import safetensors.numpy

from mmul_jax.pretrained import clip_weights

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fixtures", "albef_golden")
CKPT = os.path.join(GOLDEN, "retrieval", "albef.pth")


def rewritten(directory, change) -> str:
  """The golden checkpoint's tensors, changed by `change(state)`, as
  `directory`/albef.safetensors beside its tokenizer and heads file."""
  state = {k: np.array(v) for k, v in
           clip_weights.read_state_dict(CKPT).items()}
  change(state)
  os.makedirs(directory, exist_ok=True)
  for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
    shutil.copy(os.path.join(GOLDEN, "retrieval", name),
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

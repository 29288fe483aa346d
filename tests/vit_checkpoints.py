"""The tiny ViT checkpoint of tests/fixtures/vit_golden in other layouts,
written without torch: changed tensors, and the classifier as a
`ViTModel` backbone."""

import os

import bert_checkpoints
import numpy as np

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fixtures", "vit_golden")
CKPT = os.path.join(GOLDEN, "vit")


def rewritten(tmp_path, change, config_change=None):
  return bert_checkpoints.copy_changed(CKPT, tmp_path / "vit", change,
                                       config_change)


def backbone(tmp_path):
  """The golden classifier as a `ViTModel` saved from the bare model: no
  `vit.` prefix, a pooler, no classifier."""

  def change(state):
    for k in list(state):
      v = state.pop(k)
      if k.startswith("vit."):
        state[k[len("vit."):]] = v
    state["pooler.dense.weight"] = np.zeros((32, 32), np.float32)
    state["pooler.dense.bias"] = np.zeros(32, np.float32)

  def config(c):
    c["architectures"] = ["ViTModel"]
    c.pop("id2label", None)
    c.pop("label2id", None)

  return rewritten(tmp_path, change, config)

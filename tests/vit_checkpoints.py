"""The tiny ViT checkpoint of tests/fixtures/vit_golden in other layouts,
written without torch: changed tensors, and the classifier as a
`ViTModel` backbone."""

import json
import os
import shutil

import numpy as np
import safetensors.numpy

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fixtures", "vit_golden")
CKPT = os.path.join(GOLDEN, "vit")


def rewritten(tmp_path, change, config_change=None):
  directory = tmp_path / "vit"
  shutil.copytree(CKPT, directory)
  path = directory / "model.safetensors"
  state = safetensors.numpy.load_file(str(path))
  change(state)
  safetensors.numpy.save_file(state, str(path))
  if config_change:
    with open(directory / "config.json") as f:
      config = json.load(f)
    config_change(config)
    with open(directory / "config.json", "w") as f:
      json.dump(config, f)
  return str(directory)


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

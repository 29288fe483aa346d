"""The tiny BERT-family checkpoints of tests/fixtures/bert_golden and other
layouts of them, written without torch: changed tensors, and the
classifier as a pretrained masked-LM checkpoint."""

import json
import os
import shutil

import numpy as np
import safetensors.numpy

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fixtures", "bert_golden")
LAYOUTS = ("bert", "roberta", "distilbert")


def checkpoint(layout: str) -> str:
  return os.path.join(GOLDEN, layout)


def copy_changed(source, directory, change, config_change=None) -> str:
  """A copy of the Hugging Face checkpoint directory `source` at
  `directory`, its model.safetensors changed by `change(state)` and its
  config.json by `config_change(config)`."""
  shutil.copytree(source, directory)
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


def rewritten(tmp_path, layout, change, config_change=None) -> str:
  """`copy_changed` of the golden `layout` checkpoint under `tmp_path`."""
  return copy_changed(checkpoint(layout), tmp_path / layout, change,
                      config_change)


def pretrained(tmp_path, layout="bert"):
  """The golden classifier as a pretrained masked-LM checkpoint: no
  classifier (nor BERT pooler), a masked-LM head, the old LayerNorm names
  `gamma` / `beta`."""

  def change(state):
    for k in [k for k in state if k.startswith(("classifier", "pre_classi",
                                                "bert.pooler"))]:
      state.pop(k)
    for k in [k for k in state if k.endswith("LayerNorm.weight")]:
      state[k.replace(".weight", ".gamma")] = state.pop(k)
    state["cls.predictions.bias"] = np.zeros(5, np.float32)

  def config(c):
    c["architectures"] = [{"bert": "BertForMaskedLM",
                           "roberta": "RobertaForMaskedLM",
                           "distilbert": "DistilBertForMaskedLM"}[layout]]
    c.pop("id2label", None)
    c.pop("label2id", None)

  return rewritten(tmp_path, layout, change, config)

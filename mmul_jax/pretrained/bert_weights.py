"""BERT-family checkpoints (Hugging Face directories: safetensors, sharded
safetensors with its index, or `pytorch_model.bin` read without torch)
into `models.bert_classifier.BertClassifier`, by name (`hf_state`):
BERT (BioBERT and PubMedBERT are BERT checkpoints), RoBERTa and
DistilBERT, `model.arch` the checkpoint's `model_type`.

* A sequence classifier (`*ForSequenceClassification`, e.g. one
  fine-tuned on IMDB) gives every parameter: the original as is.
* A pretrained one (`*Model`, `*ForMaskedLM`, `BertForPreTraining`:
  `bert-base-uncased`, `roberta-base`, `distilbert-base-uncased`,
  `dmis-lab/biobert-base-cased-v1.2`) gives the encoder (and BERT's
  pooler where it has one); the classifier keeps its initialisation. Its
  masked-LM and next-sentence heads are dropped.

On import the older names `LayerNorm.gamma` / `beta` read as `weight` /
`bias`, a checkpoint saved without its `bert.` (`roberta.`,
`distilbert.`) prefix gets it, and row 0 of the token type embeddings
(the only type a single text uses) is folded into the position
embeddings, which gives the same embeddings.
"""

from __future__ import annotations

import os
import re

from flax import traverse_util
import numpy as np

from mmul_jax import errors
from mmul_jax.models import config_keys
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

LAYOUTS = config_keys.TEXT_CLASSIFIERS  # ("bert", "roberta", "distilbert")
_NAMES = {"bert": "Bert", "roberta": "Roberta", "distilbert": "DistilBert"}
CLASSIFIERS = tuple(f"{n}ForSequenceClassification" for n in _NAMES.values())
PRETRAINED = (*(f"{n}Model" for n in _NAMES.values()),
              *(f"{n}ForMaskedLM" for n in _NAMES.values()),
              "BertForPreTraining")
# The Hub repository of each checkpoint MU-Bench uses, by directory name.
REPOSITORIES = {
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-large-uncased": "google-bert/bert-large-uncased",
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
    "biobert-v1.1": "dmis-lab/biobert-v1.1",
    "pubmedbert-abstract":
        "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
    "pubmedbert-fulltext":
        "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext"}
# Heads of pretraining, and buffers.
_DROPPED = re.compile(r"^(cls\.|lm_head\.|vocab_transform\.|"
                      r"vocab_layer_norm\.|vocab_projector\.)|"
                      r"(position_ids|token_type_ids)$")
_HEADS = {"bert": ("classifier",), "roberta": ("classifier",),
          "distilbert": ("pre_classifier", "classifier")}


def fine_tuned_download(path: str) -> str:
  """Where a fine-tuned classifier (`model.original`) comes from: the
  command that downloads one (BERT base fine-tuned on IMDB) to `path`."""
  return (f"huggingface-cli download textattack/bert-base-uncased-imdb "
          f"--local-dir {path}")


def _config(path: str) -> dict:
  name = os.path.basename(os.path.normpath(path))
  return hf_state.read_config(
      path, CLASSIFIERS + PRETRAINED, what="a BERT, RoBERTa or DistilBERT "
      "checkpoint", example=REPOSITORIES.get(name,
                                             REPOSITORIES["bert-base-uncased"]),
      files="config.json, model.safetensors (or pytorch_model.bin), "
      "tokenizer.json (or vocab.txt; RoBERTa: vocab.json, merges.txt), "
      "tokenizer_config.json")


def layout(path: str) -> str:
  """The checkpoint's layout: its config's `model_type`."""
  kind = _config(path).get("model_type")
  if kind not in LAYOUTS:
    raise errors.CheckpointError(
        f"{path}: model_type {kind!r} is not one of {LAYOUTS}")
  return kind


def model_config(path: str) -> dict:
  """`BertClassifier`'s architecture arguments from config.json
  (`num_classes` None for a pretrained checkpoint)."""
  c = _config(path)
  kind = layout(path)
  distil = kind == "distilbert"
  act = c.get("activation" if distil else "hidden_act", "gelu")
  if act != "gelu":
    raise errors.CheckpointError(
        f"{path}: activation {act!r}; this port has BERT's gelu (the erf "
        "form)")
  if distil and c.get("sinusoidal_pos_embds"):
    raise errors.CheckpointError(
        f"{path}: sinusoidal position embeddings are not supported (the "
        "released DistilBERT checkpoints learn them)")
  offset = 0
  if kind == "roberta":
    offset = int(c.get("pad_token_id", 1)) + 1
  archs = set(c.get("architectures") or [])
  classes = None
  if archs & set(CLASSIFIERS):
    classes = len(c.get("id2label") or {}) or int(c.get("num_labels", 2))
  return dict(
      layout=kind, num_classes=classes, vocab_size=c["vocab_size"],
      max_positions=c["max_position_embeddings"],
      width=c["dim" if distil else "hidden_size"],
      num_layers=c["n_layers" if distil else "num_hidden_layers"],
      num_heads=c["n_heads" if distil else "num_attention_heads"],
      mlp_dim=c["hidden_dim" if distil else "intermediate_size"],
      eps=c.get("layer_norm_eps", 1e-12), position_offset=offset,
      eot_id=_eot_id(path, kind))


def _eot_id(path: str, kind: str) -> int:
  sep = hf_state.sep_id(path, -1)
  if sep >= 0:
    return sep
  return hf_state.token_id(path, "</s>", 2 if kind == "roberta" else 102)


def model_keys(path: str) -> dict:
  """The `model.*` keys (`model.arch` among them) of the checkpoint's
  architecture (`models.build` builds from them)."""
  c = model_config(path)
  return dict(arch=c["layout"], vocab_size=c["vocab_size"],
              text_width=c["width"], text_layers=c["num_layers"],
              text_heads=c["num_heads"], mlp_ratio=c["mlp_dim"] / c["width"],
              text_positions=c["max_positions"] - c["position_offset"],
              eot_id=c["eot_id"])


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` listing every `model.*` key (`arch` first) that
  differs from the checkpoint's architecture."""
  c = model_config(path)
  if c["eps"] != 1e-12:
    raise errors.CheckpointError(
        f"{path}: LayerNorm epsilon {c['eps']}; this port has BERT's 1e-12")
  if c["layout"] == "roberta" and c["position_offset"] != 2:
    raise errors.CheckpointError(
        f"{path}: pad_token_id {c['position_offset'] - 1}; RoBERTa's "
        "positions here start after padding id 1")
  wanted = model_keys(path)
  arch = wanted.pop("arch")
  extra = ([f"model.arch = {model_cfg['arch']!r} but the checkpoint is a "
            f"{arch}"] if model_cfg["arch"] != arch else [])
  hf_state.check_keys(path, model_cfg, wanted,
                      positions="the encoder's {n} positions",
                      remedy="Set these keys (bert_weights.model_keys(path) "
                      "gives them)", extra=extra)


def has_head(path: str, task=None) -> bool:
  """Whether the checkpoint is a sequence classifier."""
  del task
  return model_config(path)["num_classes"] is not None


def check_task(path: str, task) -> None:
  """Raises `ConfigError` when a classifier checkpoint answers another
  number of classes than the dataset's."""
  classes = model_config(path)["num_classes"]
  if classes is not None and classes != task.num_classes:
    raise errors.ConfigError(
        f"{path} classifies into {classes} classes; this dataset has "
        f"{task.num_classes}. Use a checkpoint fine-tuned on this task, or "
        "a pretrained one")


def read_state(path: str) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under `BertClassifier`'s names (the module
  docstring's list)."""
  kind = layout(path)
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if _DROPPED.search(k):
      continue
    k = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", k)
    k = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", k)
    if k.startswith(("embeddings.", "encoder.", "pooler.", "transformer.")):
      k = f"{kind}.{k}"  # saved from the bare model
    state[k] = v
  types = state.pop(f"{kind}.embeddings.token_type_embeddings.weight", None)
  positions = f"{kind}.embeddings.position_embeddings.weight"
  if types is not None and positions in state:
    state[positions] = state[positions] + types[0]
  return state


def import_params(params: dict, path: str) -> dict:
  """`params` of a `BertClassifier` of the checkpoint's architecture with
  every tensor of the checkpoint in place; a pretrained checkpoint's
  missing classifier (and BERT pooler) keep their initialisation."""
  kind = layout(path)
  state = read_state(path)
  skip = []
  for head in _HEADS[kind] + ((f"{kind}/pooler",) if kind == "bert"
                              else ()):
    prefix = head.replace("/", ".") + "."
    if not any(k.startswith(prefix) for k in state):
      node = params
      for part in head.split("/"):
        node = node[part]
      skip += [f"{head}/{p}" for p in
               traverse_util.flatten_dict(node, sep="/")]
  return hf_state.import_state(params, state, source=path, skip=skip)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree) with the checkpoint's tensors."""
  del model_cfg  # the architecture was checked by `check_model_config`
  return hf_state.import_whole(path, params, import_params)

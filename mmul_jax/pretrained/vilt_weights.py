"""ViLT checkpoints into `models.vilt.ViltClassifier`: its architecture
from `config.json`, its tensors by name (`hf_state`).

* A classification checkpoint (Hugging Face
  `ViltForImagesAndTextClassification`: `dandelin/vilt-b32-finetuned-nlvr2`,
  or one fine-tuned with one image per example) gives every parameter.
* The pretrained one (`ViltForMaskedLM`: `dandelin/vilt-b32-mlm`) gives
  the transformer (`vilt.*`); the classifier keeps its initialisation and
  the modality types beyond the checkpoint's (NLVR2's second image) start
  as its image type, as ViLT's NLVR2 fine-tuning does. This is where
  MultiDelete's retrained reference starts.
"""

from __future__ import annotations

import numpy as np

from mmul_jax import errors
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state


def fine_tuned_download(path: str) -> str:
  """Where a task-fine-tuned checkpoint (`model.original`) comes from: the
  command that downloads one to `path`."""
  return (f"huggingface-cli download dandelin/vilt-b32-finetuned-nlvr2 "
          f"--local-dir {path}")


ARCHITECTURE = "ViltForImagesAndTextClassification"
PRETRAINED = "ViltForMaskedLM"  # the backbone only
BERT_SEP = 102  # [SEP] of BERT's uncased vocabulary, ViLT's


def _config(path: str) -> dict:
  return hf_state.read_config(
      path, (ARCHITECTURE, PRETRAINED), what="a ViLT image(s)-and-text "
      "classification or pretrained checkpoint",
      example="dandelin/vilt-b32-mlm",
      note="that is the pretrained backbone; NLVR2's fine-tuned model, the "
      "original of configs/vilt_nlvr2.py, is "
      "dandelin/vilt-b32-finetuned-nlvr2, given as model.original",
      files="config.json, model.safetensors or pytorch_model.bin, "
      "tokenizer.json, tokenizer_config.json",
      required=("hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "image_size", "patch_size",
                "vocab_size", "max_position_embeddings"))


def model_config(path: str) -> dict:
  """The checkpoint's architecture: `ViltClassifier`'s arguments but the
  task's (`num_classes`, `num_images`), which come back as
  `checkpoint_task`."""
  c = _config(path)
  if c.get("hidden_act", "gelu") != "gelu":
    raise errors.CheckpointError(
        f"{path}: the activation is {c['hidden_act']!r}; ViLT's is gelu "
        "(the erf form)")
  if c.get("type_vocab_size", 2) != 2 or not c.get("qkv_bias", True):
    raise errors.CheckpointError(
        f"{path}: type_vocab_size {c.get('type_vocab_size')} and qkv_bias "
        f"{c.get('qkv_bias')}; ViLT's are 2 and true")
  return dict(
      vocab_size=c["vocab_size"], context_length=c["max_position_embeddings"],
      width=c["hidden_size"], num_layers=c["num_hidden_layers"],
      num_heads=c["num_attention_heads"], mlp_dim=c["intermediate_size"],
      image_size=c["image_size"], patch_size=c["patch_size"],
      eps=c.get("layer_norm_eps", 1e-12),
      eot_id=hf_state.sep_id(path, BERT_SEP))


def has_head(path: str, task=None) -> bool:
  """Whether the checkpoint holds a classifier (not the backbone alone)."""
  del task  # ViLT runs classification tasks only
  return ARCHITECTURE in (_config(path).get("architectures") or [])


def checkpoint_task(path: str) -> tuple[int, int]:
  """`(images per example, classes)` the checkpoint's classifier reads and
  answers."""
  c = _config(path)
  num_images = c.get("num_images", -1)
  labels = c.get("num_labels") or len(c.get("id2label") or {}) or 2
  return num_images, labels


def model_keys(path: str) -> dict:
  """The `model.*` keys (with `model.arch = "vilt"`) that describe the
  checkpoint's architecture (`models.build_vilt` builds from them)."""
  c = model_config(path)
  return dict(vocab_size=c["vocab_size"], text_positions=c["context_length"],
              fusion_width=c["width"], fusion_layers=c["num_layers"],
              fusion_heads=c["num_heads"],
              mlp_ratio=c["mlp_dim"] / c["width"],
              image_size=c["image_size"], patch_size=c["patch_size"],
              eot_id=c["eot_id"])


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` listing every `model.*` key that differs from
  the checkpoint's architecture (and ViLT's fixed LayerNorm epsilon)."""
  eps = model_config(path)["eps"]
  if eps != 1e-12:
    raise errors.CheckpointError(
        f"{path}: LayerNorm epsilon {eps}; ViLT's is 1e-12")
  hf_state.check_keys(path, model_cfg, model_keys(path),
                      positions="ViLT's {n} text positions",
                      remedy="Set these keys (its config.json has them)")


def check_task(path: str, task) -> None:
  """Raises `ConfigError` when the dataset's examples do not have the
  checkpoint's number of images or classes (a pretrained backbone has no
  classifier to fit)."""
  if not has_head(path):
    return
  num_images, labels = checkpoint_task(path)
  if (num_images, labels) != (task.num_images, task.num_classes):
    raise errors.ConfigError(
        f"{path} classifies examples of {num_images} image(s) into {labels} "
        f"classes; this dataset's have {task.num_images} image(s) and "
        f"{task.num_classes} classes. Use a checkpoint fine-tuned on this "
        "task's layout")


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree of `models.build_vilt`) with the
  checkpoint's tensors (`import_params`): every parameter."""
  del model_cfg  # the architecture was checked by `check_model_config`
  return hf_state.import_whole(path, params, import_params)


def import_params(params: dict, path: str) -> dict:
  """`params` of a `ViltClassifier` of the checkpoint's architecture, with
  every tensor of the checkpoint `path` (a directory: safetensors,
  sharded safetensors with its index, or pytorch_model.bin) in place; of a
  pretrained backbone, the transformer's."""
  state = clip_weights.read_state_dict(path)
  if has_head(path):
    return hf_state.import_state(params, state, source=path)
  state = {k: v for k, v in state.items() if k.startswith("vilt.")}
  types = "vilt.embeddings.token_type_embeddings.weight"
  want = len(params["vilt"]["embeddings"]["token_type_embeddings"][
      "embedding"])
  if types in state and 2 <= len(state[types]) < want:
    rows = state[types]
    state[types] = np.concatenate(
        [rows, np.repeat(rows[1:2], want - len(rows), axis=0)])
  head = [f"{name}/{leaf}" for name, module in params.items()
          if name.startswith("classifier_") for leaf in module]
  return hf_state.import_state(params, state, source=path, skip=head)

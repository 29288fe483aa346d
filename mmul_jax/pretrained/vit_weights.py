"""ViT checkpoints (Hugging Face directories: safetensors, sharded, or
`pytorch_model.bin` read without torch) into
`models.vit_classifier.VitClassifier`, by name (`hf_state`):

* a `ViTForImageClassification` (fine-tuned, e.g. on CIFAR) gives every
  parameter;
* a `ViTModel` (`google/vit-base-patch16-224-in21k`, MU-Bench's starting
  point) gives the encoder; its pooler is dropped and the classifier
  keeps its initialisation. A file saved from the bare model (no `vit.`
  prefix) gets it.

Position embeddings made for another image size are resized to the
model's grid by bicubic interpolation as torch computes it
(`positions.resize`; transformers' `interpolate_pos_encoding`), so a
224-pixel checkpoint reads other image sizes.
"""

from __future__ import annotations

import os
import re

import numpy as np

from mmul_jax import errors
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state
from mmul_jax.pretrained import positions

CLASSIFIER = "ViTForImageClassification"
BACKBONE = "ViTModel"
EXAMPLE = "google/vit-base-patch16-224-in21k"
_POS = "vit.embeddings.position_embeddings"
_DROPPED = re.compile(r"^(vit\.)?pooler\.")


def fine_tuned_download(path: str) -> str:
  """Where a fine-tuned classifier (`model.original`) comes from."""
  return ("huggingface-cli download <a ViTForImageClassification "
          f"fine-tuned on this task> --local-dir {path} (or leave "
          "model.original empty: the original then fine-tunes on D from "
          f"model.pretrained, e.g. {EXAMPLE})")


def _config(path: str) -> dict:
  name = os.path.basename(os.path.normpath(path))
  return hf_state.read_config(
      path, (CLASSIFIER, BACKBONE), what="a ViT checkpoint",
      example=f"google/{name}" if name.startswith("vit-") else EXAMPLE,
      files="config.json, model.safetensors")


def model_config(path: str) -> dict:
  """`VitClassifier`'s architecture arguments from config.json
  (`num_classes` None for a `ViTModel`)."""
  c = _config(path)
  if c.get("hidden_act", "gelu") != "gelu":
    raise errors.CheckpointError(
        f"{path}: activation {c['hidden_act']!r}; this port has ViT's gelu "
        "(the erf form)")
  if not c.get("qkv_bias", True) or c.get("num_channels", 3) != 3:
    raise errors.CheckpointError(
        f"{path}: a ViT without query/key/value biases or with "
        f"{c.get('num_channels')} channels is not supported")
  classes = None
  if CLASSIFIER in (c.get("architectures") or []):
    classes = len(c.get("id2label") or {}) or int(c.get("num_labels", 2))
  return dict(num_classes=classes, image_size=c["image_size"],
              patch_size=c["patch_size"], width=c["hidden_size"],
              num_layers=c["num_hidden_layers"],
              num_heads=c["num_attention_heads"],
              mlp_dim=c["intermediate_size"],
              eps=c.get("layer_norm_eps", 1e-12))


def model_keys(path: str) -> dict:
  """The `model.*` keys (`model.arch = "vit"`) of the checkpoint's
  architecture; `image_size` is the checkpoint's (another one reads
  resized position embeddings)."""
  c = model_config(path)
  return dict(arch="vit", image_size=c["image_size"],
              patch_size=c["patch_size"], vision_width=c["width"],
              vision_layers=c["num_layers"], vision_heads=c["num_heads"],
              mlp_ratio=c["mlp_dim"] / c["width"])


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` listing every `model.*` key that differs from
  the checkpoint's architecture (the image size may differ)."""
  c = model_config(path)
  if c["eps"] != 1e-12:
    raise errors.CheckpointError(
        f"{path}: LayerNorm epsilon {c['eps']}; this port has ViT's 1e-12")
  wanted = model_keys(path)
  wanted.pop("arch")
  wanted.pop("image_size")
  diff = [f"model.{k} = {model_cfg[k]!r} but the checkpoint has {v!r}"
          for k, v in wanted.items()
          if (abs(model_cfg[k] - v) > 1e-6 if isinstance(v, float)
              else model_cfg[k] != v)]
  if model_cfg["image_size"] % model_cfg["patch_size"]:
    diff.append(f"model.image_size = {model_cfg['image_size']} is not a "
                f"multiple of the patch size {model_cfg['patch_size']}")
  if diff:
    raise errors.ConfigError(
        f"the model config does not match {path}: " + "; ".join(diff)
        + ". Set these keys (vit_weights.model_keys(path) gives them)")


def has_head(path: str, task=None) -> bool:
  del task
  return model_config(path)["num_classes"] is not None


def check_task(path: str, task) -> None:
  classes = model_config(path)["num_classes"]
  if classes is not None and classes != task.num_classes:
    raise errors.ConfigError(
        f"{path} classifies into {classes} classes; this dataset has "
        f"{task.num_classes}. Use a checkpoint fine-tuned on this task, or "
        f"the pretrained {EXAMPLE}")


def read_state(path: str) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under `VitClassifier`'s names."""
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if _DROPPED.search(k):
      continue
    if k.startswith(("embeddings.", "encoder.", "layernorm.")):
      k = "vit." + k  # saved from the bare model
    state[k] = v
  return state


def import_params(params: dict, path: str) -> dict:
  """`params` of a `VitClassifier` of the checkpoint's architecture (at
  any image size) with every tensor of the checkpoint in place."""
  _config(path)
  state = read_state(path)
  want = params["vit"]["embeddings"]["position_embeddings"].shape
  if _POS in state and state[_POS].shape != want:
    state[_POS] = positions.resize(state[_POS], round((want[1] - 1) ** 0.5))
  skip = ()
  if not any(k.startswith("classifier.") for k in state):
    skip = ("classifier/kernel", "classifier/bias")
  return hf_state.import_state(params, state, source=path, skip=skip)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  del model_cfg  # the architecture was checked by `check_model_config`
  return hf_state.import_whole(path, params, import_params)

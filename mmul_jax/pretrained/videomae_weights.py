"""VideoMAE checkpoints (Hugging Face directories: safetensors, sharded,
or `pytorch_model.bin` read without torch) into
`models.videomae_classifier.VideomaeClassifier`, by name (`hf_state`).

Like the speech models, the model is sized by the checkpoint's
config.json (`model_config`): `model.arch = "videomae"` reads it from
`model.pretrained` (or `model.original`); `model.image_size` (and with it
`data.image_size`) must be the checkpoint's frame size. A clip may hold
another number of frames than the checkpoint's `num_frames` (the position
table is fixed, not learnt, and follows the token count), though the
released models saw 16.

* a `VideoMAEForVideoClassification` gives every weight (the classifier
  only when its classes are the task's);
* a pretrained `VideoMAEForPreTraining` (`MCG-NJU/videomae-base`,
  MU-Bench's starting point) or `VideoMAEModel` gives the encoder; its
  decoder, `encoder_to_decoder` and `mask_token` are dropped, and
  `fc_norm` and the classifier keep their initialisation.

Older files store the query and value biases as `q_bias` / `v_bias`.
"""

from __future__ import annotations

import os
import re

import numpy as np

from mmul_jax import errors
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

CLASSIFIER = "VideoMAEForVideoClassification"
_ACCEPTED = (CLASSIFIER, "VideoMAEModel", "VideoMAEForPreTraining")
EXAMPLE = "MCG-NJU/videomae-base"
_DROPPED = re.compile(r"^(decoder\.|encoder_to_decoder\.|mask_token$)")


def fine_tuned_download(path: str) -> str:
  """Where a fine-tuned classifier (`model.original`) comes from."""
  return ("huggingface-cli download <a VideoMAEForVideoClassification "
          f"fine-tuned on this task, e.g. MCG-NJU/videomae-base-finetuned-"
          f"kinetics for its own classes> --local-dir {path} (or leave "
          "model.original empty: the original then fine-tunes on D from "
          f"model.pretrained, e.g. {EXAMPLE})")


def _config(path: str) -> dict:
  name = os.path.basename(os.path.normpath(path))
  return hf_state.read_config(
      path, _ACCEPTED, what="a VideoMAE checkpoint",
      example=f"MCG-NJU/{name}" if name.startswith("videomae-")
      else EXAMPLE, files="config.json, model.safetensors")


def model_config(path: str) -> dict:
  """`VideomaeClassifier`'s arguments from config.json (`num_classes`
  None without the classification head)."""
  c = _config(path)
  if c.get("hidden_act", "gelu") != "gelu" or c.get("num_channels", 3) != 3:
    raise errors.CheckpointError(
        f"{path}: a VideoMAE with activation {c.get('hidden_act')!r} or "
        f"{c.get('num_channels')} channels; this port has GELU on RGB")
  classes = None
  if CLASSIFIER in (c.get("architectures") or []):
    classes = len(c.get("id2label") or {}) or int(c.get("num_labels", 2))
  return dict(
      num_classes=classes, image_size=int(c.get("image_size", 224)),
      patch_size=int(c.get("patch_size", 16)),
      tubelet_size=int(c.get("tubelet_size", 2)),
      width=c.get("hidden_size", 768),
      num_layers=c.get("num_hidden_layers", 12),
      num_heads=c.get("num_attention_heads", 12),
      mlp_dim=c.get("intermediate_size", 3072),
      eps=float(c.get("layer_norm_eps", 1e-12)),
      qv_bias=bool(c.get("qv_bias", True)),
      mean_pooling=bool(c.get("use_mean_pooling", True)))


def check_model_config(path: str, model_cfg) -> None:
  """`model.arch` is videomae, and `model.image_size` the checkpoint's."""
  size = model_config(path)["image_size"]
  if model_cfg["image_size"] != size:
    raise errors.ConfigError(
        f"model.image_size = {model_cfg['image_size']} but {path} reads "
        f"{size}-pixel frames; set model.image_size and data.image_size to "
        f"{size}")


def has_head(path: str, task) -> bool:
  """Whether the checkpoint's classifier is for the task's classes."""
  return model_config(path)["num_classes"] == task.num_classes


def read_state(path: str) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under `VideomaeClassifier`'s names."""
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if _DROPPED.search(k):
      continue
    k = re.sub(r"attention\.attention\.q_bias$",
               "attention.attention.query.bias", k)
    k = re.sub(r"attention\.attention\.v_bias$",
               "attention.attention.value.bias", k)
    if k.startswith(("embeddings.", "encoder.", "layernorm.")):
      k = "videomae." + k  # saved from the bare model
    state[k] = v
  return state


def import_params(params: dict, path: str) -> dict:
  """`params` (numpy) of a `VideomaeClassifier` of the checkpoint's
  architecture with every tensor of the checkpoint in place; a head for
  another number of classes, or none, leaves `params`' head (and a
  checkpoint without `fc_norm` `params`' `fc_norm`)."""
  state = read_state(path)
  skip = hf_state.drop_unfit_head(state, params, "classifier")
  if "fc_norm" in params and "fc_norm.weight" not in state:
    skip += ["fc_norm/scale", "fc_norm/bias"]
  return hf_state.import_state(params, state, source=path, skip=skip)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  del model_cfg  # the architecture is the checkpoint's
  return hf_state.import_whole(path, params, import_params)

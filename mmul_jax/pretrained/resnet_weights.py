"""ResNet checkpoints (Hugging Face directories: safetensors, sharded, or
`pytorch_model.bin` read without torch) into
`models.resnet_classifier.ResnetClassifier`, by name (`hf_state`): the
weights into `params`, every batch norm's `running_mean` and
`running_var` into `batch_stats` (`num_batches_tracked` carries nothing).

`microsoft/resnet-18`, `-34` and `-50`, MU-Bench's starting points, are
ImageNet classifiers: as `model.pretrained` their 1000-class head is
dropped and the task's head keeps its initialisation; a checkpoint whose
head has the task's classes (fine-tuned on it) gives the head as well,
and only such a checkpoint can be `model.original`. A file saved from the
bare `ResNetModel` (no `resnet.` prefix) gets it.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from mmul_jax import errors
from mmul_jax.models import resnet_classifier
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

CLASSIFIER = "ResNetForImageClassification"
BACKBONE = "ResNetModel"
EXAMPLE = "microsoft/resnet-18"
_STATS = ("running_mean", "running_var")


def fine_tuned_download(path: str) -> str:
  """Where a fine-tuned classifier (`model.original`) comes from."""
  return ("huggingface-cli download <a ResNetForImageClassification "
          f"fine-tuned on this task> --local-dir {path} (or leave "
          "model.original empty: the original then fine-tunes on D from "
          f"model.pretrained, e.g. {EXAMPLE})")


def _config(path: str) -> dict:
  name = os.path.basename(os.path.normpath(path))
  return hf_state.read_config(
      path, (CLASSIFIER, BACKBONE), what="a ResNet checkpoint",
      example=f"microsoft/{name}" if name.startswith("resnet-") else EXAMPLE,
      files="config.json, model.safetensors")


def model_config(path: str) -> dict:
  """`ResnetClassifier`'s architecture arguments from config.json
  (`num_classes` None for a `ResNetModel`)."""
  c = _config(path)
  if c.get("hidden_act", "relu") != "relu" or c.get("num_channels", 3) != 3:
    raise errors.CheckpointError(
        f"{path}: a ResNet with activation {c.get('hidden_act')!r} or "
        f"{c.get('num_channels')} channels; this port has ReLU on RGB")
  if c.get("layer_type", "bottleneck") not in ("basic", "bottleneck"):
    raise errors.CheckpointError(
        f"{path}: layer_type {c['layer_type']!r} is not basic or bottleneck")
  classes = None
  if CLASSIFIER in (c.get("architectures") or []):
    classes = len(c.get("id2label") or {}) or int(c.get("num_labels", 2))
  return dict(
      num_classes=classes, stem_width=int(c.get("embedding_size", 64)),
      widths=tuple(c.get("hidden_sizes", (256, 512, 1024, 2048))),
      depths=tuple(c.get("depths", (3, 4, 6, 3))),
      bottleneck=c.get("layer_type", "bottleneck") == "bottleneck",
      downsample_in_first_stage=bool(c.get("downsample_in_first_stage")),
      downsample_in_bottleneck=bool(c.get("downsample_in_bottleneck")))


def model_keys(path: str) -> dict:
  """The `model.*` keys (`model.arch = "resnet"`) of the checkpoint's
  architecture."""
  c = model_config(path)
  return dict(
      arch="resnet", resnet_block="bottleneck" if c["bottleneck"]
      else "basic", resnet_stem_width=c["stem_width"],
      resnet_widths=c["widths"], resnet_depths=c["depths"],
      resnet_downsample_first_stage=c["downsample_in_first_stage"],
      resnet_downsample_in_bottleneck=c["downsample_in_bottleneck"])


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` listing every `model.*` key that differs from
  the checkpoint's architecture."""
  wanted = model_keys(path)
  wanted.pop("arch")
  diff = [f"model.{k} = {model_cfg[k]!r} but the checkpoint has {v!r}"
          for k, v in wanted.items()
          if (tuple(model_cfg[k]) if isinstance(v, tuple)
              else model_cfg[k]) != v]
  if diff:
    raise errors.ConfigError(
        f"the model config does not match {path}: " + "; ".join(diff)
        + ". Set these keys (resnet_weights.model_keys(path) gives them)")


def has_head(path: str, task) -> bool:
  """Whether the checkpoint's classifier is for the task's classes (an
  ImageNet head is not: that checkpoint is a backbone)."""
  return model_config(path)["num_classes"] == task.num_classes


def read_state(path: str) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under `ResnetClassifier`'s names."""
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if k.startswith(("embedder.", "encoder.")):
      k = "resnet." + k  # saved from the bare model
    state[k] = v
  return state


def import_variables(variables: dict, path: str) -> dict:
  """`variables` (`params` and `batch_stats`, numpy) of a
  `ResnetClassifier` of the checkpoint's architecture with every tensor of
  the checkpoint in place; a head for another number of classes is left
  out (the task's head keeps `variables`')."""
  _config(path)
  stats, weights = {}, {}
  for k, v in read_state(path).items():
    (stats if k.endswith(_STATS) else weights)[k] = v
  skip = hf_state.drop_unfit_head(weights, variables["params"],
                                  "classifier.1")
  return {**variables,
          "params": hf_state.import_state(variables["params"], weights,
                                          source=path, skip=skip),
          resnet_classifier.BATCH_STATS: hf_state.import_state(
              variables[resnet_classifier.BATCH_STATS], stats,
              source=path)}


def load_towers(path: str, params: dict, model_cfg) -> dict:
  del model_cfg  # the architecture was checked by `check_model_config`
  return import_variables(jax.tree.map(np.asarray, params), path)

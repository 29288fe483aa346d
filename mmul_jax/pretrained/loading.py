"""The checkpoint of `model.pretrained`, by `model.arch`: CLIP towers into
the dual encoder (`clip_weights`), a whole BLIP retrieval model
(`blip_weights`), a whole ViLT classifier (`vilt_weights`) or a whole
ALBEF model (`albef_weights`), a whole BERT, RoBERTa or DistilBERT
classifier (`bert_weights`), a whole ViT classifier (`vit_weights`), a
whole ResNet classifier with its batch-norm statistics
(`resnet_weights`), a whole wav2vec 2.0 or HuBERT classifier
(`speech_weights`), a whole VideoMAE classifier (`videomae_weights`), a
whole Llama-layout or T5 language model (`llama_weights`, `t5_weights`),
a whole LLaVA vision-language model (`llava_weights`)."""

from __future__ import annotations

import os

from mmul_jax import errors
from mmul_jax.pretrained import albef_weights
from mmul_jax.pretrained import bert_weights
from mmul_jax.pretrained import blip_weights
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import llama_weights
from mmul_jax.pretrained import llava_weights
from mmul_jax.pretrained import resnet_weights
from mmul_jax.pretrained import speech_weights
from mmul_jax.pretrained import t5_weights
from mmul_jax.pretrained import unet_text_weights
from mmul_jax.pretrained import videomae_weights
from mmul_jax.pretrained import vilt_weights
from mmul_jax.pretrained import vit_weights

_BY_ARCH = {"clip": clip_weights, "blip": blip_weights, "vilt": vilt_weights,
            "albef": albef_weights,
            "vit": vit_weights, "resnet": resnet_weights,
            **{root: speech_weights for root in speech_weights.ROOTS},
            "videomae": videomae_weights, "llama": llama_weights,
            "t5": t5_weights, "llava": llava_weights,
            "unet": unet_text_weights,
            **{k: bert_weights for k in bert_weights.LAYOUTS}}


def _module(model_cfg):
  return _BY_ARCH[dict(model_cfg).get("arch", "clip")]


def check_model_config(path: str, model_cfg, *, task=None) -> None:
  """Raises `ConfigError` naming every `model.*` key that differs from the
  checkpoint's architecture, or, given the run's `task`, the task layout
  the checkpoint's head was made for (ViLT's images and classes, ALBEF's
  one- or two-image model), which is checked first: a checkpoint for
  another task layout is named as such, not by its sizes."""
  module = _module(model_cfg)
  if task is not None and hasattr(module, "check_task"):
    module.check_task(path, task)
  module.check_model_config(path, model_cfg)


def check_original(path: str, model_cfg, task) -> None:
  """`check_model_config` for `model.original`, which must also hold the
  task's head (it is the original model as is)."""
  module = _module(model_cfg)
  if not os.path.exists(path):
    download = getattr(module, "fine_tuned_download", None)
    where = (f"Download the task-fine-tuned checkpoint there, e.g. "
             f"{download(path)}" if download else
             "Save a checkpoint fine-tuned on the dataset there "
             "(save_pretrained)")
    raise errors.CheckpointError(
        f"model.original = {path} does not exist. {where}, or pass "
        "--config.model.original=PATH (empty: the original trains on D)")
  check_model_config(path, model_cfg, task=task)
  if hasattr(module, "has_head") and not module.has_head(path, task):
    raise errors.ConfigError(
        f"model.original = {path} is a pretrained backbone without the "
        "task's head; the original is the task-fine-tuned checkpoint (set "
        "the backbone as model.pretrained)")


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree) with what the checkpoint holds for
  the model: CLIP's towers and temperature, every BLIP parameter but the
  temperature, or every ViLT parameter."""
  return _module(model_cfg).load_towers(path, params, model_cfg)

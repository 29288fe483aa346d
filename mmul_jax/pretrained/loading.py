"""The checkpoint of `model.pretrained`, by `model.arch`: CLIP towers into
the dual encoder (`clip_weights`), a whole BLIP retrieval model
(`blip_weights`) or a whole ViLT classifier (`vilt_weights`)."""

from __future__ import annotations

from mmul_jax.pretrained import blip_weights
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import vilt_weights

_BY_ARCH = {"clip": clip_weights, "blip": blip_weights, "vilt": vilt_weights}


def _module(model_cfg):
  return _BY_ARCH[dict(model_cfg).get("arch", "clip")]


def check_model_config(path: str, model_cfg, *, task=None) -> None:
  """Raises `ConfigError` naming every `model.*` key that differs from the
  checkpoint's architecture, or, given the run's `task`, the task layout
  the checkpoint's head was made for (ViLT's images and classes)."""
  module = _module(model_cfg)
  module.check_model_config(path, model_cfg)
  if task is not None and hasattr(module, "check_task"):
    module.check_task(path, task)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree) with what the checkpoint holds for
  the model: CLIP's towers and temperature, every BLIP parameter but the
  temperature, or every ViLT parameter."""
  return _module(model_cfg).load_towers(path, params, model_cfg)

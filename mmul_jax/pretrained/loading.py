"""The checkpoint of `model.pretrained`, by `model.arch`: CLIP towers into
the dual encoder (`clip_weights`), or a whole BLIP retrieval model
(`blip_weights`)."""

from __future__ import annotations

from mmul_jax.pretrained import blip_weights
from mmul_jax.pretrained import clip_weights

_BY_ARCH = {"clip": clip_weights, "blip": blip_weights}


def _module(model_cfg):
  return _BY_ARCH[dict(model_cfg).get("arch", "clip")]


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` naming every `model.*` key that differs from the
  checkpoint's architecture."""
  _module(model_cfg).check_model_config(path, model_cfg)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree) with what the checkpoint holds for
  the model: CLIP's towers and temperature, or every BLIP parameter but
  the temperature."""
  return _module(model_cfg).load_towers(path, params, model_cfg)

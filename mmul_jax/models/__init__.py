"""Models: a CLIP-style dual encoder with a fusion encoder, and size presets."""

from __future__ import annotations

import jax.numpy as jnp

from mmul_jax.models.clip import DualEncoder
from mmul_jax.models.presets import PRESETS
from mmul_jax.models.presets import preset

# Config keys that describe the run, not the module.
_NON_MODULE_KEYS = ("preset", "pretrained")


def build(model_config, **task) -> DualEncoder:
  """The module described by a config's `model` block; `task` adds what the
  dataset decides (`num_classes`, `num_images` of a classification task)."""
  kwargs = {k: v for k, v in dict(model_config).items()
            if k not in _NON_MODULE_KEYS}
  kwargs.update(task)
  kwargs["dtype"] = jnp.dtype(kwargs.get("dtype", "float32"))
  return DualEncoder(**kwargs)


__all__ = ["DualEncoder", "PRESETS", "build", "preset"]

"""Models: a CLIP-style dual encoder and a graph-text encoder (Jraph), both
with a fusion encoder, unimodal classifiers on their towers, and size
presets."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from mmul_jax.models.classifiers import CLASSIFIERS
from mmul_jax.models.classifiers import ImageClassifier
from mmul_jax.models.classifiers import TextClassifier
from mmul_jax.models.clip import DualEncoder
from mmul_jax.models.graph import GraphEncoder
from mmul_jax.models.graph_text import GraphTextEncoder
from mmul_jax.models.presets import PRESETS
from mmul_jax.models.presets import preset

_MODULES = {"image": DualEncoder, "graph": GraphTextEncoder}


def build(model_config, *, modality: str = "image", unimodal: bool = False,
          **task):
  """The module described by a config's `model` block for a dataset of
  `modality` ("image": `DualEncoder`; "graph": `GraphTextEncoder`, which
  reads the `graph_*` keys instead of the image tower's; with `unimodal`,
  the modality's classifier, `CLASSIFIERS`); `task` adds what the dataset
  decides (`num_classes`, `num_images` of a classification task)."""
  cls = (CLASSIFIERS if unimodal else _MODULES)[modality]
  fields = {f.name for f in dataclasses.fields(cls)}
  kwargs = {k: v for k, v in dict(model_config).items() if k in fields}
  kwargs.update(task)
  kwargs["dtype"] = jnp.dtype(kwargs.get("dtype", "float32"))
  return cls(**kwargs)


__all__ = ["CLASSIFIERS", "DualEncoder", "GraphEncoder", "GraphTextEncoder",
           "ImageClassifier", "PRESETS", "TextClassifier", "build",
           "preset"]

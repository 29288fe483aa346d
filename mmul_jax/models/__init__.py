"""Models: a CLIP-style dual encoder and a graph-text encoder (Jraph), both
with a fusion encoder, BLIP's retrieval model, unimodal classifiers on
their towers, and size presets."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from mmul_jax.models.blip import BlipRetrieval
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
  if dict(model_config).get("arch", "clip") == "blip":
    if unimodal or modality != "image" or task:
      raise ValueError("model.arch = 'blip' is BLIP's retrieval model: "
                       "image-text retrieval tasks only")
    return build_blip(model_config)
  cls = (CLASSIFIERS if unimodal else _MODULES)[modality]
  fields = {f.name for f in dataclasses.fields(cls)}
  kwargs = {k: v for k, v in dict(model_config).items() if k in fields}
  kwargs.update(task)
  kwargs["dtype"] = jnp.dtype(kwargs.get("dtype", "float32"))
  return cls(**kwargs)


def build_blip(model_config) -> BlipRetrieval:
  """`BlipRetrieval` from a config's `model` block: the towers' sizes, MLPs
  of `mlp_ratio` x their width, `text_positions` (0: `context_length`),
  `eot_id` BLIP's [SEP]."""
  c = dict(model_config)
  return BlipRetrieval(
      embed_dim=c["embed_dim"], image_size=c["image_size"],
      patch_size=c["patch_size"], vision_width=c["vision_width"],
      vision_layers=c["vision_layers"], vision_heads=c["vision_heads"],
      vision_mlp_dim=round(c["mlp_ratio"] * c["vision_width"]),
      vocab_size=c["vocab_size"],
      context_length=c.get("text_positions") or c["context_length"],
      text_width=c["text_width"], text_layers=c["text_layers"],
      text_heads=c["text_heads"],
      text_mlp_dim=round(c["mlp_ratio"] * c["text_width"]),
      eot_id=c["eot_id"], logit_scale_init=c["logit_scale_init"],
      dtype=jnp.dtype(c.get("dtype", "float32")))


__all__ = ["BlipRetrieval", "CLASSIFIERS", "DualEncoder", "GraphEncoder",
           "GraphTextEncoder", "ImageClassifier", "PRESETS",
           "TextClassifier", "build", "build_blip", "preset"]

"""BLIP VQA checkpoints (Hugging Face `BlipForQuestionAnswering`
directories: `Salesforce/blip-vqa-base`, `-capfilt-large`) into
`models.blip_vqa.BlipVqa`, sized by config.json, the tensors by name
(`hf_state`). Its text decoder is the captioning model's, head tied the
same way, so the sizes, the tied head and the import are
`blip_caption_weights`'."""

from __future__ import annotations

import os

import numpy as np

from mmul_jax import errors
from mmul_jax.models import blip_vqa
from mmul_jax.pretrained import blip_caption_weights
from mmul_jax.pretrained import hf_state

ARCHITECTURE = "BlipForQuestionAnswering"


def _config(path: str) -> dict:
  return hf_state.read_config(
      path, ARCHITECTURE, what="a BLIP VQA checkpoint",
      example="Salesforce/blip-vqa-base",
      files="config.json, model.safetensors, tokenizer.json",
      required=("text_config", "vision_config"))


def model_config(path: str) -> dict:
  """`BlipVqa`'s arguments from the checkpoint's config.json."""
  c = _config(path)
  t, v = c["text_config"], c["vision_config"]
  # One text config sizes the keys of both cross-attentions: the
  # question's (to the image tokens) and the answer's (to the question).
  cross = t.get("encoder_hidden_size", v["hidden_size"])
  if not cross == t["hidden_size"] == v["hidden_size"]:
    raise errors.CheckpointError(
        f"{path}: text_config.encoder_hidden_size ({cross}), the text "
        f"width ({t['hidden_size']}) and the image width "
        f"({v['hidden_size']}) differ; BLIP's VQA cross-attentions need "
        "them equal")
  return blip_caption_weights.decoder_sizes(path, c)


read_state = blip_caption_weights.read_state


def load(path: str, dtype=np.float32):
  """`(module, params)` of the checkpoint at `path`, names and shapes
  checked (`hf_state.import_state`)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  path = os.path.expanduser(path)
  module = blip_vqa.BlipVqa(**model_config(path), dtype=jnp.dtype(dtype))
  ids = jnp.zeros((1, 2), jnp.int32)
  return blip_caption_weights.load_into(path, module, ids,
                                        jnp.ones((1, 2), bool), ids)

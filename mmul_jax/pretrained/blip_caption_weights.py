"""BLIP captioning checkpoints (Hugging Face `BlipForConditionalGeneration`
directories: `Salesforce/blip-image-captioning-base`, `-large`) into
`models.blip_caption.BlipCaptioner`, sized by config.json, the tensors by
name (`hf_state`). The head's vocabulary projection is tied to the word
embeddings in these files (a file that keeps its own
`decoder.weight` keeps it); its bias is `predictions.bias`."""

from __future__ import annotations

import os

import numpy as np

from mmul_jax.models import blip_caption
from mmul_jax.pretrained import blip_weights
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

ARCHITECTURE = "BlipForConditionalGeneration"
_HEAD = "text_decoder.cls.predictions.decoder"
_WORDS = "text_decoder.bert.embeddings.word_embeddings.weight"


def _config(path: str) -> dict:
  return hf_state.read_config(
      path, ARCHITECTURE, what="a BLIP captioning checkpoint",
      example="Salesforce/blip-image-captioning-base",
      files="config.json, model.safetensors, tokenizer.json",
      required=("text_config", "vision_config"))


def model_config(path: str) -> dict:
  """`BlipCaptioner`'s arguments from the checkpoint's config.json."""
  return decoder_sizes(path, _config(path))


def decoder_sizes(path: str, config: dict) -> dict:
  """The arguments of BLIP's models with a text decoder (`BlipCaptioner`,
  `blip_vqa.BlipVqa`) from a config.json (`config`)."""
  return dict(blip_weights.tower_sizes(path, config),
              max_positions=config["text_config"]["max_position_embeddings"])


def read_state(path: str) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under the names of BLIP's models with a
  text decoder: the tied head's projection from the word embeddings, its
  bias once."""
  state = dict(clip_weights.read_state_dict(path))
  state.pop(f"{_HEAD}.bias", None)  # the same tensor as predictions.bias
  if f"{_HEAD}.weight" not in state and _WORDS in state:
    state[f"{_HEAD}.weight"] = state[_WORDS]
  return state


def load(path: str, dtype=np.float32):
  """`(module, params)` of the checkpoint at `path`, names and shapes
  checked (`hf_state.import_state`)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  path = os.path.expanduser(path)
  c = model_config(path)
  module = blip_caption.BlipCaptioner(**c, dtype=jnp.dtype(dtype))
  return load_into(path, module, jnp.zeros((1, 2), jnp.int32))


def load_into(path: str, module, *texts):
  """`(module, params)`: `module`'s parameters (shaped by its `init` on
  one blank image and `texts`) from the checkpoint at `path`."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  images = jnp.zeros((1, module.image_size, module.image_size, 3),
                     jnp.float32)
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), images,
                          *texts)
  params = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
  return module, {"params": hf_state.import_state(
      params["params"], read_state(path), source=path)}

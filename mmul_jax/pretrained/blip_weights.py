"""BLIP retrieval checkpoints (Hugging Face `BlipForImageTextRetrieval`:
`Salesforce/blip-itm-base-coco`, `-flickr`, `-large-*`) into
`models.blip.BlipRetrieval`: its architecture from `config.json`, its
tensors by name (`hf_state`)."""

from __future__ import annotations

import os

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

ARCHITECTURE = "BlipForImageTextRetrieval"


def _config(path: str) -> dict:
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  config = io_utils.read_json(os.path.join(directory, "config.json"),
                              "text_config", "vision_config",
                              what="checkpoint config",
                              remedy="save the checkpoint with its "
                              "config.json (save_pretrained)",
                              error=errors.CheckpointError)
  archs = config.get("architectures") or []
  if ARCHITECTURE not in archs:
    raise errors.CheckpointError(
        f"{directory} holds {archs or 'an unnamed architecture'}, not "
        f"{ARCHITECTURE} (BLIP's retrieval model, e.g. "
        "Salesforce/blip-itm-base-coco)")
  return config


def model_config(path: str) -> dict:
  """`BlipRetrieval`'s architecture arguments from the checkpoint's
  config.json."""
  config = _config(path)
  t, v = config["text_config"], config["vision_config"]
  for tower, c in (("text", t), ("vision", v)):
    if c.get("hidden_act", "gelu") != "gelu":
      raise errors.CheckpointError(
          f"{path}: the {tower} encoder's activation is "
          f"{c['hidden_act']!r}; BLIP's is gelu (the erf form)")
  if t.get("encoder_hidden_size", v["hidden_size"]) != v["hidden_size"]:
    raise errors.CheckpointError(
        f"{path}: text_config.encoder_hidden_size "
        f"({t['encoder_hidden_size']}) is not the image encoder's width "
        f"({v['hidden_size']})")
  return dict(
      embed_dim=config.get("image_text_hidden_size", 256),
      image_size=v["image_size"], patch_size=v["patch_size"],
      vision_width=v["hidden_size"], vision_layers=v["num_hidden_layers"],
      vision_heads=v["num_attention_heads"],
      vision_mlp_dim=v["intermediate_size"],
      vision_eps=v.get("layer_norm_eps", 1e-5),
      vocab_size=t["vocab_size"],
      context_length=t["max_position_embeddings"],
      text_width=t["hidden_size"], text_layers=t["num_hidden_layers"],
      text_heads=t["num_attention_heads"], text_mlp_dim=t["intermediate_size"],
      text_eps=t.get("layer_norm_eps", 1e-12),
      pad_id=t.get("pad_token_id", 0) or 0)


def import_params(params: dict, path: str) -> dict:
  """`params` of a `BlipRetrieval` built from `model_config(path)`, with
  every tensor of the checkpoint `path` (a directory: safetensors,
  sharded safetensors with its index, or pytorch_model.bin) in place;
  `logit_scale`, which the checkpoints do not keep, stays as given."""
  _config(path)
  state = clip_weights.read_state_dict(path)
  return hf_state.import_state(params, state, source=path,
                               skip=("logit_scale",))

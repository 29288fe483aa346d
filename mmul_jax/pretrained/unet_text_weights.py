"""A CLIP checkpoint's text tower as a text-to-image UNet's caption encoder
(`model.arch = "unet"` with `model.pretrained`: Stable Diffusion reads
captions through CLIP's text encoder). The UNet's text tower has CLIP's
layout, so CLIP's importer (`clip_weights`, every file layout it reads)
fills it; the image tower and temperature have no place in the UNet and
stay unread; the UNet itself starts fresh."""

from __future__ import annotations

import ml_collections

from mmul_jax import errors
from mmul_jax.pretrained import clip_weights

# The `model.*` keys of the text tower a CLIP checkpoint fixes.
TEXT_KEYS = ("embed_dim", "vocab_size", "context_length", "text_width",
             "text_layers", "text_heads", "eot_id", "mlp_ratio",
             "activation", "layer_norm_eps")


def model_config(path: str) -> dict:
  """The text tower's keys of the checkpoint (heads only where the files
  record them: `clip_weights.model_config`)."""
  found = clip_weights.model_config(path)
  return {k: found[k] for k in TEXT_KEYS if k in found}


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` naming every text-tower key that differs from
  the checkpoint's."""
  diff = [f"model.{k} = {model_cfg[k]!r} but the checkpoint has {v!r}"
          for k, v in model_config(path).items()
          if (abs(model_cfg[k] - v) > 1e-9 if isinstance(v, float)
              else model_cfg[k] != v)]
  if diff:
    raise errors.ConfigError(
        f"the UNet's text tower does not match {path}: " + "; ".join(diff)
        + ". Set these keys to the checkpoint's text config")


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` with the checkpoint's text tower in `txt` (the image
  tower's tensors are accounted for by the checkpoint's own sizes, not
  the run's unused `vision_*` keys, and left unread)."""
  state = clip_weights.read_state_dict(path)
  sizes = clip_weights.model_config(path, state)
  cfg = ml_collections.ConfigDict({
      **dict(model_cfg), **{k: v for k, v in sizes.items()
                            if k not in TEXT_KEYS}})
  return clip_weights.import_towers(params, state, cfg, source=path)

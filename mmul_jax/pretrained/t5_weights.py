"""T5-style encoder-decoder checkpoints (T5, T5 v1.1, flan-t5; Hugging
Face directories: safetensors, sharded, or `pytorch_model.bin` read
without torch) into `models.t5.T5ForConditionalGeneration`, by name
(`hf_state`).

The model is sized by config.json (`model_config`). The encoder's and
decoder's copies of the shared embedding (`*.embed_tokens.weight`) are
dropped; a file with its own `lm_head.weight` (flan-t5, T5 v1.1) keeps
it, one without ties the head to the embedding. Whether the decoder's
output is scaled by d_model^-0.5 before the head follows transformers:
the config's `scale_decoder_outputs` (transformers 5), else
`tie_word_embeddings` not false (older configs: T5 v1.0 scales, v1.1 and
flan-t5 do not).
"""

from __future__ import annotations

import os

import numpy as np

from mmul_jax import errors
from mmul_jax.models import t5
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

ARCHITECTURE = "T5ForConditionalGeneration"
EXAMPLE = "google/flan-t5-base"


def _config(path: str) -> dict:
  return hf_state.read_config(
      path, ARCHITECTURE, what="a T5 encoder-decoder", example=EXAMPLE,
      files="config.json, model.safetensors, tokenizer.json")


def _state(path: str) -> dict[str, np.ndarray]:
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if k.endswith("embed_tokens.weight"):
      continue  # copies of `shared`
    state[k] = v
  return state


def model_config(path: str, state: dict | None = None) -> t5.T5Config:
  """The checkpoint's architecture (`state`, its tensors, tells whether the
  head is its own)."""
  c = _config(path)
  proj = c.get("feed_forward_proj", "relu")
  gated = proj.startswith("gated-")
  act = c.get("dense_act_fn") or proj.removeprefix("gated-")
  if act == "gelu" and gated:
    act = "gelu_new"  # transformers' reading of "gated-gelu"
  if act not in t5.ACTIVATIONS:
    raise errors.CheckpointError(
        f"{path}: feed_forward_proj {proj!r} ({act}) is not supported here "
        f"({sorted(t5.ACTIVATIONS)} are)")
  state = _state(path) if state is None else state
  scale = c.get("scale_decoder_outputs")
  if scale is None:
    scale = c.get("tie_word_embeddings", True) is not False
  layers = int(c["num_layers"])
  return t5.T5Config(
      vocab_size=int(c["vocab_size"]), d_model=int(c["d_model"]),
      d_kv=int(c["d_kv"]), d_ff=int(c["d_ff"]), num_layers=layers,
      num_decoder_layers=int(c.get("num_decoder_layers") or layers),
      num_heads=int(c["num_heads"]),
      num_buckets=int(c.get("relative_attention_num_buckets", 32)),
      max_distance=int(c.get("relative_attention_max_distance", 128)),
      eps=float(c.get("layer_norm_epsilon", 1e-6)), gated=gated, act=act,
      tie_embeddings="lm_head.weight" not in state,
      scale_decoder_outputs=bool(scale),
      decoder_start_id=int(c.get("decoder_start_token_id") or 0))


def model_keys(path: str) -> dict:
  """The `model.*` keys a run on the checkpoint sets
  (`hf_state.language_model_keys`)."""
  return hf_state.language_model_keys(path, int(_config(path)["vocab_size"]))


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` naming the `model.*` keys that differ from the
  checkpoint's (`model_keys`)."""
  model_config(path)  # a checkpoint this port cannot read: one line
  hf_state.check_language_model(path, model_cfg, "t5", model_keys(path),
                                what="a T5 encoder-decoder")


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree) with the checkpoint's tensors."""
  del model_cfg  # the architecture is the checkpoint's (`model_config`)
  return hf_state.import_whole(path, params, lambda p, path: (
      hf_state.import_state(p, _state(path), source=path)))


def load(path: str, dtype=np.float32):
  """`(module, params)` of the checkpoint at `path`, names and shapes
  checked (`hf_state.import_state`)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  path = os.path.expanduser(path)
  state = _state(path)
  cfg = model_config(path, state)
  module = t5.T5ForConditionalGeneration(cfg, dtype=jnp.dtype(dtype))
  ids = jnp.zeros((1, 2), jnp.int32)
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), ids,
                          jnp.ones((1, 2), bool), ids)
  params = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
  return module, {"params": hf_state.import_state(params["params"], state,
                                                  source=path)}

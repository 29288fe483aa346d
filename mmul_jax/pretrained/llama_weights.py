"""Llama-layout causal language models (Hugging Face directories:
safetensors, sharded safetensors with its index, or `pytorch_model.bin`
read without torch) into `models.llama.LlamaForCausalLM`, by name
(`hf_state`): `LlamaForCausalLM` (Llama 2 and 3, with Llama 3's rope
scaling), `Qwen2ForCausalLM` (query, key and value biases),
`MistralForCausalLM` (its sliding window) and `Phi3ForCausalLM` (its
fused `qkv_proj` and `gate_up_proj` split on import, its partial rotary
factor and sliding window).

The model is sized by the checkpoint's config.json (`model_config`). Old
files' `rotary_emb.inv_freq` buffers are dropped (the frequencies follow
from the config), as is a saved `lm_head.weight` of a tied model. Other
rope scalings, a Qwen2 with sliding-window layers, and biased MLPs or
output projections are refused in one line.
"""

from __future__ import annotations

import os

import numpy as np

from mmul_jax import errors
from mmul_jax.models import llama
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM",
                 "MistralForCausalLM", "Phi3ForCausalLM")
_WINDOWED = ("MistralForCausalLM", "Phi3ForCausalLM")
EXAMPLE = "meta-llama/Llama-3.2-1B"


def _config(path: str) -> dict:
  return hf_state.read_config(
      path, ARCHITECTURES, what="a Llama-layout causal language model",
      example=EXAMPLE, files="config.json, model.safetensors, "
      "tokenizer.json")


def _rope(path: str, c: dict) -> tuple[float, tuple]:
  """`(rope_theta, rope_scaling)` from either config form (transformers 5's
  `rope_parameters`, or `rope_theta` and `rope_scaling`)."""
  params = dict(c.get("rope_parameters") or {})
  theta = float(params.get("rope_theta", c.get("rope_theta", 10000.0)))
  scaling = c.get("rope_scaling") or params
  kind = scaling.get("rope_type", scaling.get("type", "default"))
  if kind == "default":
    return theta, ()
  if kind == "llama3":
    return theta, ("llama3", float(scaling["factor"]),
                   float(scaling["low_freq_factor"]),
                   float(scaling["high_freq_factor"]),
                   int(scaling["original_max_position_embeddings"]))
  raise errors.CheckpointError(
      f"{path}: rope scaling {kind!r} is not supported here (default and "
      "llama3 are)")


def model_config(path: str) -> llama.LlamaConfig:
  """The checkpoint's architecture from its config.json."""
  c = _config(path)
  return config_of(c, next(a for a in c["architectures"]
                           if a in ARCHITECTURES), path)


def config_of(c: dict, arch: str, path: str) -> llama.LlamaConfig:
  """The `LlamaConfig` of a config.json's (or a vision-language model's
  `text_config`'s) dict `c` for architecture `arch` (one of
  `ARCHITECTURES`); `path` names the checkpoint in messages."""
  for key in ("mlp_bias", "attention_out_bias"):
    if c.get(key):
      raise errors.CheckpointError(f"{path}: {key} is not supported here")
  if c.get("hidden_act", "silu") != "silu":
    raise errors.CheckpointError(
        f"{path}: activation {c['hidden_act']!r}; the Llama layout's MLP "
        "is SwiGLU (silu)")
  if arch == "Qwen2ForCausalLM" and c.get("use_sliding_window"):
    raise errors.CheckpointError(
        f"{path}: Qwen2 with sliding-window layers is not supported here")
  try:
    heads = int(c["num_attention_heads"])
    theta, scaling = _rope(path, c)
    window = c.get("sliding_window") if arch in _WINDOWED else 0
    head_dim = int(c.get("head_dim") or c["hidden_size"] // heads)
    partial = float((c.get("rope_parameters") or {}).get(
        "partial_rotary_factor", c.get("partial_rotary_factor", 1.0)))
    return llama.LlamaConfig(
        vocab_size=int(c["vocab_size"]), hidden_size=int(c["hidden_size"]),
        intermediate_size=int(c["intermediate_size"]),
        num_layers=int(c["num_hidden_layers"]), num_heads=heads,
        num_kv_heads=int(c.get("num_key_value_heads") or heads),
        head_dim=head_dim,
        max_positions=int(c.get("max_position_embeddings", 4096)),
        rms_eps=float(c.get("rms_norm_eps", 1e-6)), rope_theta=theta,
        rope_scaling=scaling,
        tie_embeddings=bool(c.get("tie_word_embeddings", False)),
        qkv_bias=(arch == "Qwen2ForCausalLM"
                  or bool(c.get("attention_bias", False))),
        sliding_window=int(window or 0),
        rotary_dim=0 if partial == 1.0 else int(head_dim * partial))
  except KeyError as e:
    raise errors.CheckpointError(
        f"{path}: the config has no {e.args[0]!r}; re-save the checkpoint "
        "with its full config.json (save_pretrained)") from None


def read_state(path: str, cfg: llama.LlamaConfig) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under `LlamaForCausalLM`'s names."""
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if k.endswith("rotary_emb.inv_freq"):
      continue
    if cfg.tie_embeddings and k == "lm_head.weight":
      continue
    if not k.startswith(("model.", "lm_head.")):
      k = f"model.{k}"  # saved from the bare model
    if k.endswith("self_attn.qkv_proj.weight"):  # Phi-3: q, k, v rows
      q, kv = cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim
      stem = k.removesuffix("qkv_proj.weight")
      for name, rows in (("q", v[:q]), ("k", v[q:q + kv]),
                         ("v", v[q + kv:])):
        state[f"{stem}{name}_proj.weight"] = rows
      continue
    if k.endswith("mlp.gate_up_proj.weight"):  # Phi-3: gate, then up
      stem = k.removesuffix("gate_up_proj.weight")
      half = v.shape[0] // 2
      state[f"{stem}gate_proj.weight"] = v[:half]
      state[f"{stem}up_proj.weight"] = v[half:]
      continue
    state[k] = v
  return state


def import_params(params: dict, path: str) -> dict:
  """`params` of the checkpoint's `LlamaForCausalLM` with every tensor in
  place (`hf_state.import_state`: names and shapes checked)."""
  return hf_state.import_state(params, read_state(path, model_config(path)),
                               source=path)


def model_keys(path: str) -> dict:
  """The `model.*` keys a run on the checkpoint sets
  (`hf_state.language_model_keys`)."""
  return hf_state.language_model_keys(path, model_config(path).vocab_size)


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` naming the `model.*` keys that differ from the
  checkpoint's (`model_keys`), and `CheckpointError` for a checkpoint this
  port cannot read (`model_config`)."""
  hf_state.check_language_model(path, model_cfg, "llama", model_keys(path),
                                what="a Llama-layout language model")


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree) with the checkpoint's tensors."""
  del model_cfg  # the architecture is the checkpoint's (`model_config`)
  return hf_state.import_whole(path, params, import_params)


def load(path: str, dtype=np.float32):
  """`(module, params)` of the checkpoint at `path`."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  path = os.path.expanduser(path)
  cfg = model_config(path)
  module = llama.LlamaForCausalLM(cfg, dtype=jnp.dtype(dtype))
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0),
                          jnp.zeros((1, 2), jnp.int32))
  params = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
  params = {"params": import_params(params["params"], path)}
  return module, params

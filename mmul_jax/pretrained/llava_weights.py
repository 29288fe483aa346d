"""LLaVA checkpoints (Hugging Face `LlavaForConditionalGeneration`
directories: `llava-hf/llava-1.5-7b-hf` and its kind) into
`models.llava.VisionLanguageModel`: CLIP's vision tower read at
`vision_feature_layer`, the GELU projector, and a Llama-layout decoder
(Llama / Vicuna, Mistral or Qwen2 by `text_config.model_type`), with the
image tokens in place of the prompt's `image_token_index` placeholders.

Sized by config.json (`model_config`), whose `text_config` and
`vision_config` may list only what differs from transformers' defaults
(LLaVA-1.5's do): the defaults of `LlamaConfig` and `CLIPVisionConfig`
fill the rest. Tensors by name (`hf_state`), from either file layout:
transformers 4's and 5's save (`vision_tower.vision_model.*` or
`vision_tower.*`, `language_model.model.*`, `language_model.lm_head`)
and the in-memory one (`model.vision_tower.*`, `model.language_model.*`,
`lm_head`). A SigLIP tower, several feature layers, another projector
activation or a bias-free projector are refused in one line.

LLaVA's first training stage is the other way in: `model.pretrained` a
Llama-layout language model (`llama_weights`) and
`model.vision_pretrained` a Hugging Face CLIP or BLIP checkpoint (any of
their architectures: its `vision_model.*` tensors), the projector
starting fresh, the image before the prompt (no placeholder).
"""

from __future__ import annotations

import os

import jax
import numpy as np

from mmul_jax import errors
from mmul_jax.models import llama
from mmul_jax.models import llava
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state
from mmul_jax.pretrained import llama_weights

ARCHITECTURE = "LlavaForConditionalGeneration"
EXAMPLE = "llava-hf/llava-1.5-7b-hf"
# transformers' defaults for what a LLaVA config.json leaves out.
_LLAMA_DEFAULTS = dict(vocab_size=32000, hidden_size=4096,
                       intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, max_position_embeddings=2048,
                       rms_norm_eps=1e-6)
_CLIP_DEFAULTS = dict(hidden_size=768, intermediate_size=3072,
                      num_hidden_layers=12, num_attention_heads=12,
                      image_size=224, patch_size=32, hidden_act="quick_gelu",
                      layer_norm_eps=1e-5)
_DECODERS = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
             "qwen2": "Qwen2ForCausalLM"}
# Checkpoint name prefixes -> the module's (longest first).
_RENAMES = (("model.vision_tower.vision_model.", "vision_tower."),
            ("vision_tower.vision_model.", "vision_tower."),
            ("model.vision_tower.", "vision_tower."),
            ("model.multi_modal_projector.", "multi_modal_projector."),
            ("model.language_model.", "language_model.model."),
            ("lm_head.", "language_model.lm_head."))


_VISION_ARCHITECTURES = ("CLIPModel", "CLIPVisionModel",
                         "CLIPVisionModelWithProjection",
                         "BlipForImageTextRetrieval",
                         "BlipForConditionalGeneration",
                         "BlipForQuestionAnswering", "BlipModel")


def _config(path: str) -> dict:
  return hf_state.read_config(
      path, ARCHITECTURE, what="a LLaVA vision-language model",
      example=EXAMPLE, files="config.json, model*.safetensors, "
      "tokenizer.json")


def is_llava(path: str) -> bool:
  """Whether the checkpoint at `path` is a whole LLaVA model (else a
  language model the vision tower of `model.vision_pretrained` joins)."""
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  config = os.path.join(directory, "config.json")
  if not os.path.exists(config):
    return False
  c = hf_state.read_config(path, (ARCHITECTURE,) + llama_weights.ARCHITECTURES,
                           what="a LLaVA or Llama-layout model",
                           example=EXAMPLE, files="config.json")
  return ARCHITECTURE in c["architectures"]


def vision_sizes(path: str) -> dict:
  """`VisionLanguageModel`'s vision attributes for the vision tower of
  the CLIP or BLIP checkpoint at `path` (`model.vision_pretrained`)."""
  c = hf_state.read_config(
      path, _VISION_ARCHITECTURES, what="a CLIP or BLIP checkpoint",
      example="openai/clip-vit-large-patch14-336", files="config.json, "
      "model.safetensors", note="model.vision_pretrained")
  blip = any(a.startswith("Blip") for a in c["architectures"])
  defaults = {**_CLIP_DEFAULTS, "hidden_act": "gelu"} if blip else _CLIP_DEFAULTS
  v = {**defaults, **(c.get("vision_config") or c)}
  if blip and v["hidden_act"] != "gelu":
    _refuse(path, f"vision activation {v['hidden_act']!r}")
  return _tower(path, v, "blip" if blip else "clip")


def _tower(path: str, v: dict, tower: str) -> dict:
  """`VisionLanguageModel`'s vision attributes from a vision config `v`
  (`tower`: "clip" or "blip")."""
  act = v["hidden_act"]
  if act not in clip_weights.HF_ACTIVATIONS:
    _refuse(path, f"vision activation {act!r}")
  return dict(
      image_size=int(v["image_size"]), patch_size=int(v["patch_size"]),
      vision_width=int(v["hidden_size"]),
      vision_layers=int(v["num_hidden_layers"]),
      vision_heads=int(v["num_attention_heads"]),
      vision_mlp_dim=int(v["intermediate_size"]),
      vision_eps=float(v["layer_norm_eps"]), vision=tower,
      vision_act=clip_weights.HF_ACTIVATIONS[act])


def import_vision(params: dict, path: str) -> dict:
  """`params` (the model's tree) with its `vision_tower` from the
  `vision_model.*` tensors of the CLIP or BLIP checkpoint at `path`."""
  prefix = "vision_model."
  state = {k[len(prefix):]: v
           for k, v in clip_weights.read_state_dict(path).items()
           if k.startswith(prefix)}
  if not state:
    raise errors.CheckpointError(
        f"{path} holds no vision_model.* tensor; model.vision_pretrained "
        "takes a Hugging Face CLIP or BLIP checkpoint")
  return {**params, "vision_tower": hf_state.import_state(
      params["vision_tower"], state, source=path)}


def _refuse(path: str, what: str) -> None:
  raise errors.CheckpointError(f"{path}: {what} is not supported here "
                               "(LLaVA-1.5's layout is)")


def model_config(path: str) -> dict:
  """`VisionLanguageModel`'s attributes for the checkpoint at `path`."""
  c = _config(path)
  vision = {**_CLIP_DEFAULTS, **(c.get("vision_config") or {})}
  if vision.get("model_type", "clip_vision_model") != "clip_vision_model":
    _refuse(path, f"a {vision['model_type']} vision tower")
  text = dict(c.get("text_config") or {})
  kind = text.get("model_type", "llama")
  if kind not in _DECODERS:
    _refuse(path, f"a {kind} language model")
  if kind == "llama":
    text = {**_LLAMA_DEFAULTS, **text}
  layer = c.get("vision_feature_layer", -2)
  if not isinstance(layer, int):
    _refuse(path, f"vision_feature_layer {layer!r} (several layers)")
  strategy = c.get("vision_feature_select_strategy", "default")
  if strategy not in ("default", "full"):
    _refuse(path, f"vision_feature_select_strategy {strategy!r}")
  if c.get("projector_hidden_act", "gelu") != "gelu":
    _refuse(path, f"projector activation {c['projector_hidden_act']!r}")
  if not c.get("multimodal_projector_bias", True):
    _refuse(path, "a projector without biases")
  tower = _tower(path, vision, "clip")
  cfg = llama_weights.config_of(text, _DECODERS[kind], path)
  token = c.get("image_token_index", c.get("image_token_id"))
  if token is None:
    raise errors.CheckpointError(f"{path}: config.json names no "
                                 "image_token_index")
  return dict(cfg=cfg, **tower, feature_layer=int(layer),
              keep_cls=strategy == "full", image_token_id=int(token))


def read_state(path: str, cfg: llama.LlamaConfig) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under `VisionLanguageModel`'s names."""
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if k.endswith("rotary_emb.inv_freq"):
      continue
    k = next((new + k[len(old):] for old, new in _RENAMES
              if k.startswith(old)), k)
    if cfg.tie_embeddings and k == "language_model.lm_head.weight":
      continue
    state[k] = v
  return state


def import_params(params: dict, path: str) -> dict:
  """`params` with every tensor of the checkpoint in place (names and
  shapes checked)."""
  cfg = model_config(path)["cfg"]
  return hf_state.import_state(params, read_state(path, cfg), source=path)


def model_keys(path: str, vision_path: str = "") -> dict:
  """The `model.*` keys a run on the checkpoint sets: the embedding rows,
  the tokenizer's end of text (`hf_state.language_model_keys`) and the
  image and patch sizes (which `data.image_size` must equal); of a
  language model (`path`) and a vision checkpoint (`vision_path`) when
  `path` is not a LLaVA model."""
  if not is_llava(path):
    keys = llama_weights.model_keys(path)
    if vision_path:
      sizes = vision_sizes(vision_path)
      keys.update(image_size=sizes["image_size"],
                  patch_size=sizes["patch_size"])
    return keys
  sizes = model_config(path)
  return {**hf_state.language_model_keys(path, sizes["cfg"].vocab_size),
          "image_size": sizes["image_size"],
          "patch_size": sizes["patch_size"]}


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` naming the `model.*` keys that differ from the
  checkpoint's (`model_keys`), or a `vision_pretrained` beside a whole
  LLaVA model; `CheckpointError` for one this port cannot read."""
  vision = os.path.expanduser(dict(model_cfg).get("vision_pretrained", ""))
  if vision and is_llava(path):
    raise errors.ConfigError(
        f"{path} is a whole LLaVA model, vision tower included: leave "
        "model.vision_pretrained empty (it joins a language model's "
        "checkpoint)")
  hf_state.check_language_model(
      path, model_cfg, "llava", model_keys(path, vision),
      what="a LLaVA vision-language model or its language model")


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree) with the checkpoint's tensors:
  every one of a LLaVA model; else the language model's, and the vision
  tower's of `model.vision_pretrained` where set (the projector keeps
  its initialisation)."""
  if is_llava(path):
    return hf_state.import_whole(path, params, import_params)
  tree = dict(jax.tree.map(np.asarray, params["params"]))
  tree["language_model"] = llama_weights.import_params(
      tree["language_model"], path)
  vision = os.path.expanduser(dict(model_cfg).get("vision_pretrained", ""))
  if vision:
    tree = import_vision(tree, vision)
  return {**params, "params": tree}


def load(path: str, dtype=np.float32):
  """`(module, params)` of the checkpoint at `path`."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  path = os.path.expanduser(path)
  module = llava.VisionLanguageModel(**model_config(path),
                                     dtype=jnp.dtype(dtype))
  size = module.image_size
  shapes = jax.eval_shape(
      module.init, jax.random.PRNGKey(0), jnp.zeros((1, 2), jnp.int32),
      jnp.ones((1, 2), bool), None, jnp.zeros((1, size, size, 3)),
      jnp.ones((1,), bool))
  params = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
  return module, {"params": import_params(params["params"], path)}

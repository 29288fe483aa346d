"""CLIP checkpoints (Hugging Face or OpenAI / open_clip naming) -> the image
and text towers of `models.DualEncoder`.

Hugging Face stores `text_model.*`, `vision_model.*`, `visual_projection`
and `text_projection` as PyTorch `Linear` weights (out, in); OpenAI and
open_clip store `visual.*` and the text tower at the top level, attention as
one fused `in_proj_weight`, and projections as (in, out) matrices. Both are
read as numpy (`read_state_dict`) and mapped tensor by tensor onto our
parameter tree; a missing, misshapen or unused tensor stops the import with
its name. The fusion encoder has no CLIP counterpart and keeps its
initialisation.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.pretrained import torch_files

# Files tried, in order, inside a checkpoint directory.
WEIGHT_FILES = ("model.safetensors", "open_clip_model.safetensors",
                "pytorch_model.bin", "open_clip_pytorch_model.bin")
SHARD_INDEXES = ("model.safetensors.index.json",
                 "pytorch_model.bin.index.json")
# Buffers that carry no weights.
_IGNORED_SUFFIXES = ("position_ids", "attn_mask", "num_batches_tracked")
# Hugging Face `hidden_act` -> our activation names (`models.layers`).
HF_ACTIVATIONS = {"quick_gelu": "quick_gelu", "gelu": "gelu_exact",
                  "gelu_pytorch_tanh": "gelu", "gelu_new": "gelu"}


def _read_file(path: str) -> dict[str, np.ndarray]:
  if path.endswith(".safetensors"):
    import safetensors.flax  # bfloat16-capable, unlike safetensors.numpy
    try:
      with jax.default_device(jax.devices("cpu")[0]):
        tensors = safetensors.flax.load_file(path)
    except Exception as e:  # the library raises its own error types
      raise errors.CheckpointError(f"{path} is not a readable safetensors "
                                   f"file: {e}") from None
    return {k: np.asarray(v) for k, v in tensors.items()}
  tree = torch_files.load(path)
  for key in ("state_dict", "model"):  # training checkpoints wrap it
    if isinstance(tree, dict) and isinstance(tree.get(key), dict):
      tree = tree[key]
  if not isinstance(tree, dict) or not all(
      isinstance(v, np.ndarray) for v in tree.values()):
    raise errors.CheckpointError(f"{path} does not hold a flat state dict "
                                 "of tensors")
  return dict(tree)


def _read_json(path: str, *keys: str) -> dict:
  return io_utils.read_json(path, *keys, what="checkpoint file",
                            remedy="re-download or re-export it",
                            error=errors.CheckpointError)


def weight_files(path: str) -> list[str]:
  """The weight file(s) of a checkpoint file or directory."""
  if os.path.isfile(path):
    return [path]
  if not os.path.isdir(path):
    raise errors.CheckpointError(f"pretrained checkpoint {path} does not "
                                 "exist")
  for name in SHARD_INDEXES:
    index = os.path.join(path, name)
    if os.path.exists(index):
      shards = sorted(set(_read_json(index, "weight_map").values()))
      return [os.path.join(path, s) for s in shards]
  for name in WEIGHT_FILES:
    if os.path.exists(os.path.join(path, name)):
      return [os.path.join(path, name)]
  found = sorted(os.path.basename(p) for p in glob.glob(f"{path}/*"))
  raise errors.CheckpointError(
      f"no weights in {path}: expected one of {', '.join(WEIGHT_FILES)} "
      f"(found: {', '.join(found) or 'nothing'})")


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """Every tensor of a checkpoint file or directory, as numpy arrays."""
  state = {}
  for f in weight_files(path):
    state.update(_read_file(f))
  return state


def naming(state: dict) -> str:
  """"hf" or "openai" (also open_clip's), from the tensor names."""
  if any(k.startswith("vision_model.") for k in state):
    return "hf"
  if any(k.startswith("visual.") for k in state):
    return "openai"
  raise errors.CheckpointError(
      "not a CLIP checkpoint: no vision_model.* (Hugging Face) or visual.* "
      f"(OpenAI/open_clip) tensors among {sorted(state)[:5]}")


def count_layers(state, prefix: str) -> int:
  """How many `{prefix}{i}.` blocks the tensor names hold."""
  n = 0
  while any(k.startswith(f"{prefix}{n}.") for k in state):
    n += 1
  return n


def model_config(path: str, state: dict | None = None) -> dict:
  """The `model` config block a checkpoint needs (architecture keys only).

  From `config.json` for Hugging Face directories, else inferred from the
  tensor shapes as OpenAI's loader does. Attention heads leave no trace in
  the shapes, so they are not returned then (OpenAI's models use width/64;
  the vit_b32/vit_b16 presets have them).
  """
  cfg_path = os.path.join(path, "config.json") if os.path.isdir(path) else ""
  if cfg_path and os.path.exists(cfg_path):
    hf = _read_json(cfg_path, "text_config", "vision_config")
    t, v = hf["text_config"], hf["vision_config"]
    for name, block, keys in (
        ("text_config", t, ("vocab_size", "hidden_size", "intermediate_size",
                            "num_hidden_layers", "num_attention_heads",
                            "max_position_embeddings")),
        ("vision_config", v, ("image_size", "patch_size", "hidden_size",
                              "intermediate_size", "num_hidden_layers",
                              "num_attention_heads"))):
      missing = [k for k in keys if k not in block]
      if missing:
        raise errors.CheckpointError(
            f"{cfg_path}: {name} lacks {', '.join(missing)}; is it a "
            "Hugging Face CLIPConfig?")
    act = {HF_ACTIVATIONS.get(t.get("hidden_act", "quick_gelu")),
           HF_ACTIVATIONS.get(v.get("hidden_act", "quick_gelu"))}
    ratio = {t["intermediate_size"] / t["hidden_size"],
             v["intermediate_size"] / v["hidden_size"]}
    if len(act) != 1 or None in act or len(ratio) != 1:
      raise errors.CheckpointError(
          f"{cfg_path}: the text and vision towers differ in activation or "
          "MLP ratio (or use an unknown activation); the dual encoder shares "
          "them")
    eot = t.get("eos_token_id", 49407)
    if eot == 2:  # configs before transformers PR 24773: EOT = highest id
      eot = t["vocab_size"] - 1
    return dict(
        embed_dim=hf.get("projection_dim", 512),
        image_size=v["image_size"], patch_size=v["patch_size"],
        vision_width=v["hidden_size"], vision_layers=v["num_hidden_layers"],
        vision_heads=v["num_attention_heads"], vocab_size=t["vocab_size"],
        context_length=t["max_position_embeddings"],
        text_width=t["hidden_size"], text_layers=t["num_hidden_layers"],
        text_heads=t["num_attention_heads"], eot_id=eot,
        mlp_ratio=ratio.pop(), activation=act.pop(),
        layer_norm_eps=t.get("layer_norm_eps", 1e-5))
  state = read_state_dict(path) if state is None else state
  if naming(state) != "openai":
    raise errors.CheckpointError(
        f"{path}: a Hugging Face checkpoint needs its config.json beside "
        "the weights")
  def shape(name: str, ndim: int) -> tuple[int, ...]:
    if name not in state:
      raise errors.CheckpointError(
          f"{path} has no tensor {name!r}, which an OpenAI/open_clip CLIP "
          "checkpoint has (and the model size is read from); is it a "
          "complete CLIP state dict?")
    if state[name].ndim != ndim:
      raise errors.CheckpointError(
          f"{path}: tensor {name!r} has shape {state[name].shape}, expected "
          f"{ndim} dimensions")
    return state[name].shape

  conv = shape("visual.conv1.weight", 4)
  width, patch = conv[0], conv[-1]
  grid = round((shape("visual.positional_embedding", 2)[0] - 1) ** 0.5)
  vocab = shape("token_embedding.weight", 2)[0]
  return dict(
      embed_dim=shape("text_projection", 2)[1], image_size=patch * grid,
      patch_size=patch, vision_width=width,
      vision_layers=count_layers(state, "visual.transformer.resblocks."),
      vocab_size=vocab,
      context_length=shape("positional_embedding", 2)[0],
      text_width=shape("ln_final.weight", 1)[0],
      text_layers=count_layers(state, "transformer.resblocks."),
      eot_id=vocab - 1,
      mlp_ratio=shape("visual.transformer.resblocks.0.mlp.c_fc.weight", 2)[0]
      / width, activation="quick_gelu", layer_norm_eps=1e-5)


@dataclasses.dataclass(frozen=True)
class _Rule:
  """Target parameter path <- source tensor(s) through `fn`."""
  target: tuple[str, ...]
  sources: tuple[str, ...]
  fn: Callable[..., np.ndarray]


def _linear(w):  # torch Linear (out, in) -> Dense kernel (in, out)
  return w.T


def _heads_in(n):  # (H*D, W) torch weight -> (W, H, D) DenseGeneral kernel
  return lambda w: w.T.reshape(w.shape[1], n, -1)


def _heads_bias(n):
  return lambda b: b.reshape(n, -1)


def _heads_out(n):  # (W, H*D) -> (H, D, W)
  return lambda w: w.T.reshape(n, -1, w.shape[0])


def _third(i, fn):  # one of q, k, v from a fused (3W, ...) tensor
  return lambda x: fn(np.split(x, 3, axis=0)[i])


def _norm(target, source):
  return [_Rule(target + ("scale",), (source + ".weight",), np.asarray),
          _Rule(target + ("bias",), (source + ".bias",), np.asarray)]


def _dense(target, source, fn=_linear):
  return [_Rule(target + ("kernel",), (source + ".weight",), fn),
          _Rule(target + ("bias",), (source + ".bias",), np.asarray)]


def _block_rules(target, source, heads, fmt) -> list[_Rule]:
  rules = []
  attn = target + ("attn",)
  if fmt == "hf":
    for ours, theirs in (("query", "q_proj"), ("key", "k_proj"),
                         ("value", "v_proj")):
      rules += [
          _Rule(attn + (ours, "kernel"),
                (f"{source}.self_attn.{theirs}.weight",), _heads_in(heads)),
          _Rule(attn + (ours, "bias"), (f"{source}.self_attn.{theirs}.bias",),
                _heads_bias(heads))]
    rules += [_Rule(attn + ("out", "kernel"),
                    (f"{source}.self_attn.out_proj.weight",),
                    _heads_out(heads)),
              _Rule(attn + ("out", "bias"),
                    (f"{source}.self_attn.out_proj.bias",), np.asarray)]
    rules += _norm(target + ("ln_1",), f"{source}.layer_norm1")
    rules += _norm(target + ("ln_2",), f"{source}.layer_norm2")
    rules += _dense(target + ("mlp", "c_fc"), f"{source}.mlp.fc1")
    rules += _dense(target + ("mlp", "c_proj"), f"{source}.mlp.fc2")
    return rules
  for i, ours in enumerate(("query", "key", "value")):
    rules += [
        _Rule(attn + (ours, "kernel"), (f"{source}.attn.in_proj_weight",),
              _third(i, _heads_in(heads))),
        _Rule(attn + (ours, "bias"), (f"{source}.attn.in_proj_bias",),
              _third(i, _heads_bias(heads)))]
  rules += [_Rule(attn + ("out", "kernel"),
                  (f"{source}.attn.out_proj.weight",), _heads_out(heads)),
            _Rule(attn + ("out", "bias"), (f"{source}.attn.out_proj.bias",),
                  np.asarray)]
  for name in ("ln_1", "ln_2"):
    rules += _norm(target + (name,), f"{source}.{name}")
  for name in ("c_fc", "c_proj"):
    rules += _dense(target + ("mlp", name), f"{source}.mlp.{name}")
  return rules


def _conv(w):  # torch (out, in, kh, kw) -> flax (kh, kw, in, out)
  return w.transpose(2, 3, 1, 0)


def rules(fmt: str, model_cfg) -> Iterator[_Rule]:
  """Every (target <- source) mapping for a model of `model_cfg`."""
  img, txt = ("img",), ("txt",)
  if fmt == "hf":
    v, t = "vision_model", "text_model"
    yield from [
        _Rule(img + ("conv1", "kernel"),
              (f"{v}.embeddings.patch_embedding.weight",), _conv),
        _Rule(img + ("class_embedding",), (f"{v}.embeddings.class_embedding",),
              np.asarray),
        _Rule(img + ("positional_embedding",),
              (f"{v}.embeddings.position_embedding.weight",), np.asarray),
        *_norm(img + ("ln_pre",), f"{v}.pre_layrnorm"),
        *_norm(img + ("ln_post",), f"{v}.post_layernorm"),
        _Rule(img + ("proj",), ("visual_projection.weight",), _linear),
        _Rule(txt + ("token_embedding", "embedding"),
              (f"{t}.embeddings.token_embedding.weight",), np.asarray),
        _Rule(txt + ("positional_embedding",),
              (f"{t}.embeddings.position_embedding.weight",), np.asarray),
        *_norm(txt + ("ln_final",), f"{t}.final_layer_norm"),
        _Rule(txt + ("text_projection",), ("text_projection.weight",),
              _linear)]
    blocks = ((img, f"{v}.encoder.layers", model_cfg.vision_layers,
               model_cfg.vision_heads),
              (txt, f"{t}.encoder.layers", model_cfg.text_layers,
               model_cfg.text_heads))
  else:
    yield from [
        _Rule(img + ("conv1", "kernel"), ("visual.conv1.weight",), _conv),
        _Rule(img + ("class_embedding",), ("visual.class_embedding",),
              np.asarray),
        _Rule(img + ("positional_embedding",),
              ("visual.positional_embedding",), np.asarray),
        *_norm(img + ("ln_pre",), "visual.ln_pre"),
        *_norm(img + ("ln_post",), "visual.ln_post"),
        _Rule(img + ("proj",), ("visual.proj",), np.asarray),
        _Rule(txt + ("token_embedding", "embedding"),
              ("token_embedding.weight",), np.asarray),
        _Rule(txt + ("positional_embedding",), ("positional_embedding",),
              np.asarray),
        *_norm(txt + ("ln_final",), "ln_final"),
        _Rule(txt + ("text_projection",), ("text_projection",), np.asarray)]
    blocks = ((img, "visual.transformer.resblocks", model_cfg.vision_layers,
               model_cfg.vision_heads),
              (txt, "transformer.resblocks", model_cfg.text_layers,
               model_cfg.text_heads))
  for target, source, layers, heads in blocks:
    for i in range(layers):
      yield from _block_rules(target + ("transformer", f"resblocks_{i}"),
                              f"{source}.{i}", heads, fmt)
  yield _Rule(("logit_scale",), ("logit_scale",), np.asarray)


def import_towers(params: dict, state: dict[str, np.ndarray], model_cfg,
                  *, source: str = "checkpoint") -> dict:
  """`params` (a `{"params": ...}` tree) with the image tower, text tower
  and temperature replaced by the checkpoint's tensors, cast to the
  parameters' dtypes. Raises `CheckpointError` naming the first missing or
  misshapen tensor, or the tensors the model has no place for. A unimodal
  classifier (`models.classifiers`) takes its one tower; the checkpoint's
  other tower is left unread."""
  fmt = naming(state)
  tree = jax.tree.map(np.asarray, params)
  used = set()
  for rule in rules(fmt, model_cfg):
    if rule.target[0] not in tree["params"]:  # a tower this model lacks
      used.update(rule.sources)
      continue
    for name in rule.sources:
      if name not in state:
        raise errors.CheckpointError(
            f"{source} has no tensor {name!r} (needed for "
            f"{'/'.join(rule.target)}); is it a CLIP checkpoint of the "
            "configured size?")
      check_weight(state[name], name, source)
    node = tree["params"]
    for part in rule.target[:-1]:
      node = node[part]
    want = node[rule.target[-1]]
    try:
      value = rule.fn(*(state[n] for n in rule.sources))
    except ValueError:
      value = None
    if value is None or value.shape != want.shape:
      shapes = ", ".join(f"{n} {tuple(state[n].shape)}" for n in rule.sources)
      raise errors.CheckpointError(
          f"{source}: tensor {shapes} does not fit {'/'.join(rule.target)} "
          f"of shape {tuple(want.shape)}; check the model config against "
          "the checkpoint's")
    node[rule.target[-1]] = value.astype(want.dtype)
    used.update(rule.sources)
  unused = sorted(k for k in state if k not in used
                  and not k.endswith(_IGNORED_SUFFIXES))
  if unused:
    raise errors.CheckpointError(
        f"{source} has {len(unused)} tensor(s) the model has no place for, "
        f"e.g. {unused[:3]}; the configured model is smaller than the "
        "checkpoint (compare model.* with its config)")
  return tree


def check_weight(tensor: np.ndarray, name: str, source: str) -> None:
  """Refuses a weight that is not floating point (it would be cast and
  trained) or holds NaN/inf (training would only diverge later)."""
  if not jnp.issubdtype(tensor.dtype, jnp.floating):
    raise errors.CheckpointError(
        f"{source}: tensor {name!r} has dtype {tensor.dtype}, but weights "
        "are floating point; is this the right file?")
  bad = int(np.size(tensor) - np.count_nonzero(
      np.isfinite(np.asarray(tensor, np.float32))))
  if bad:
    raise errors.CheckpointError(
        f"{source}: tensor {name!r} holds {bad} NaN/inf value(s); the "
        "checkpoint is corrupt (re-download or re-export it)")


def check_model_config(path: str, model_cfg,
                       state: dict | None = None) -> None:
  """Raises `ConfigError` listing every `model.*` key that differs from
  the checkpoint's architecture."""
  wanted = model_config(path, state)
  diff = [f"model.{k} = {model_cfg[k]!r} but the checkpoint has {v!r}"
          for k, v in wanted.items()
          if (not np.isclose(model_cfg[k], v) if isinstance(v, float)
              else model_cfg[k] != v)]
  if diff:
    raise errors.ConfigError(
        f"the model config does not match {path}: " + "; ".join(diff)
        + ". Set these keys (the vit_b32/vit_b16 presets match OpenAI's "
        "checkpoints of those names)")


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`import_towers` from the checkpoint file or directory `path`."""
  return import_towers(params, read_state_dict(path), model_cfg,
                       source=path)

"""A Hugging Face state dict into a Flax parameter tree whose modules carry
the same names (`models.blip`): `a.layer.0.dense.weight` is
`a/layer_0/dense/kernel`, transposed. Every tensor's name, shape and dtype
is checked, and every parameter must be given; the first problem is one
line naming the tensor."""

from __future__ import annotations

import collections
import functools
import os
import re
from typing import Iterable

import jax
import numpy as np
from flax import traverse_util

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.data.core import tokenizer
from mmul_jax.pretrained import clip_weights

# Buffers that carry no weights.
IGNORED_SUFFIXES = ("position_ids", "token_type_ids", "num_batches_tracked")


def read_config(path: str, architecture: str | tuple[str, ...], *,
                what: str, example: str, files: str,
                required: Iterable[str] = (), note: str = "") -> dict:
  """The `config.json` of the checkpoint directory `path` (or of a
  weights file's directory), which must name `architecture` (or one of
  them). `what`, `example` and `files` word the message when the
  checkpoint is missing (what it is, a Hugging Face repository to
  download, the files needed; `note` ends it)."""
  accepted = ((architecture,) if isinstance(architecture, str)
              else architecture)
  if not os.path.exists(path):
    raise errors.CheckpointError(
        f"pretrained checkpoint {path} does not exist. Download {what} "
        f"there ({files}), e.g. huggingface-cli download {example} "
        f"--local-dir {path}, or pass --config.model.pretrained=DIR"
        + (f" ({note})" if note else ""))
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  config = io_utils.read_json(os.path.join(directory, "config.json"),
                              *required, what="checkpoint config",
                              remedy="save the checkpoint with its "
                              "config.json (save_pretrained)",
                              error=errors.CheckpointError)
  archs = config.get("architectures") or []
  if not set(accepted) & set(archs):
    raise errors.CheckpointError(
        f"{directory} holds {archs or 'an unnamed architecture'}, not "
        f"{' or '.join(accepted)} ({what}, e.g. {example})")
  return config


def check_keys(path: str, model_cfg, wanted: dict, *,
               positions: str, remedy: str, extra=()) -> None:
  """Raises `ConfigError` listing every `model.*` key of `wanted` (the
  checkpoint's architecture, `text_positions` among them) that
  `model_cfg` sets otherwise, a `context_length` beyond those positions
  (worded "exceeds {positions} N ..."), and the `extra` problems; `remedy`
  ends the message."""
  diff = [f"model.{k} = {model_cfg[k]!r} but the checkpoint has {v!r}"
          for k, v in wanted.items()
          if (abs(model_cfg[k] - v) > 1e-6 if isinstance(v, float)
              else model_cfg[k] != v)]
  if model_cfg["context_length"] > wanted["text_positions"]:
    diff.append(f"model.context_length = {model_cfg['context_length']} "
                f"exceeds {positions.format(n=wanted['text_positions'])}")
  diff += list(extra)
  if diff:
    raise errors.ConfigError(
        f"the model config does not match {path}: " + "; ".join(diff)
        + f". {remedy}")


def language_model_keys(path: str, vocab_size: int) -> dict:
  """The `model.*` keys a run on language-model checkpoint `path` sets:
  its embedding rows (`vocab_size`) and the end-of-text id of the
  tokenizer beside it (when it has one); the architecture itself is read
  from config.json (`models.LANGUAGE_MODELS`)."""
  tok = tokenizer.checkpoint_tokenizer(
      path if os.path.isdir(path) else os.path.dirname(path))
  end = None if tok is None else tokenizer.eot_id(tok)
  return {"vocab_size": vocab_size, **({} if end is None
                                       else {"eot_id": end})}


def check_language_model(path: str, model_cfg, arch: str, wanted: dict, *,
                         what: str) -> None:
  """Raises `ConfigError` if `model.arch` is not `arch` or a key of
  `wanted` (`language_model_keys`) differs from the checkpoint's."""
  if model_cfg["arch"] != arch:
    raise errors.ConfigError(f"{path} is {what}; set model.arch = {arch!r}")
  diff = [f"model.{k} = {model_cfg[k]!r} but the checkpoint has {v!r}"
          for k, v in wanted.items() if model_cfg[k] != v]
  if diff:
    raise errors.ConfigError(
        f"the model config does not match {path}: " + "; ".join(diff)
        + f". Set these keys (pretrained.{arch}_weights.model_keys(path) "
        "gives them)")


def import_whole(path: str, params: dict, import_params) -> dict:
  """`params` (a `{"params": ...}` tree) with every weight from the
  checkpoint `path` by `import_params(numpy tree, path)`: the
  `load_towers` of the models whose checkpoints hold every weight."""
  return {**params, "params": import_params(
      jax.tree.map(np.asarray, params["params"]), path)}


def token_id(path: str, token: str, default: int) -> int:
  """`token`'s id in the tokenizer beside checkpoint `path` (its
  tokenizer.json, or the slow tokenizer's vocabulary files: `tokenizer.
  checkpoint_tokenizer`); `default` without them or the token (the
  tokenizer's own check then names the problem)."""
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  tok = tokenizer.checkpoint_tokenizer(directory)
  found = None if tok is None else tok.token_to_id(token)
  return default if found is None else found


def sep_id(path: str, default: int) -> int:
  """[SEP]'s id in the tokenizer.json beside checkpoint `path`."""
  return token_id(path, "[SEP]", default)


def drop_unfit_head(state: dict, params: dict, name: str) -> list[str]:
  """Removes the Linear `name` (`name.weight`, `name.bias`) from `state`
  unless the checkpoint has it with the shape of `params`' (a head for the
  task's classes); the parameter paths the import then skips (the head
  keeps `params`' initialisation), or none."""
  path = flax_path(name)
  want = functools.reduce(lambda t, k: t[k], path, params)["kernel"].shape
  head = state.get(f"{name}.weight")
  if head is not None and head.shape[::-1] == tuple(want):
    return []
  state.pop(f"{name}.weight", None)
  state.pop(f"{name}.bias", None)
  return ["/".join(path + (leaf,)) for leaf in ("kernel", "bias")]


def flax_path(name: str) -> tuple[str, ...]:
  """The module path of a tensor name, with `layer.0` as `layer_0` and the
  leaf (`weight`, `bias` or a raw parameter) kept last."""
  joined = re.sub(r"\.(\d+)(?=\.|$)", r"_\1", name)
  return tuple(joined.split("."))


def _leaf(leaves: set[str], leaf: str, name: str, source: str):
  """Which of the module's parameters (`leaves`) the tensor's `leaf` is,
  and how to lay it out."""
  if leaf == "bias" and "bias" in leaves:
    return "bias", lambda t: t
  if leaf == "weight":
    for target, fn in (("kernel", _kernel), ("scale", lambda t: t),
                       ("embedding", lambda t: t)):
      if target in leaves:
        return target, fn
  if leaf in leaves:  # a raw parameter (`class_embedding`)
    return leaf, lambda t: t
  raise errors.CheckpointError(
      f"{source}: tensor {name!r} has no place in the model (its module "
      f"holds {sorted(leaves)}); is this the right checkpoint?")


def _kernel(t: np.ndarray) -> np.ndarray:
  if t.ndim == 2:  # Linear (out, in) -> Dense (in, out)
    return t.T
  if t.ndim == 3:  # Conv1d (out, in, k) -> (k, in, out)
    return t.transpose(2, 1, 0)
  if t.ndim == 4:  # Conv2d (out, in, kh, kw) -> (kh, kw, in, out)
    return t.transpose(2, 3, 1, 0)
  if t.ndim == 5:  # Conv3d (out, in, kt, kh, kw) -> (kt, kh, kw, in, out)
    return t.transpose(2, 3, 4, 1, 0)
  return t


def import_state(params: dict, state: dict[str, np.ndarray], *,
                 source: str, skip: Iterable[str] = ()) -> dict:
  """`params` (a Flax tree, e.g. from `init`) with every tensor of `state`
  in its place.

  Args:
    params: the model's parameters (its `"params"` collection's tree).
    state: tensor name -> array, e.g. `clip_weights.read_state_dict`.
    source: the checkpoint's path, for messages.
    skip: parameter paths ("a/b/c") the checkpoint does not hold, kept as
      given (BLIP's retrieval checkpoints keep no temperature).

  Returns:
    A new tree, every leaf but `skip`'s from `state`, in `params`' dtypes.

  Raises:
    CheckpointError: a tensor with no place, of the wrong shape, not
      floating point or not finite, or a parameter no tensor gives.
  """
  flat = traverse_util.flatten_dict(params)
  leaves = collections.defaultdict(set)  # module path -> its parameters
  for path in flat:
    leaves[path[:-1]].add(path[-1])
  given = set()
  for name, tensor in state.items():
    if name.endswith(IGNORED_SUFFIXES):
      continue
    *modules, leaf = flax_path(name)
    modules = tuple(modules)
    if modules not in leaves:
      raise errors.CheckpointError(
          f"{source}: tensor {name!r} has no place in the model (no "
          f"module {'/'.join(modules)}); is this the right checkpoint, "
          "and does the config match its architecture?")
    target, fn = _leaf(leaves[modules], leaf, name, source)
    clip_weights.check_weight(tensor, name, source)
    value = np.asarray(fn(tensor))
    key = (*modules, target)
    want = np.shape(flat[key])
    if value.shape != want:
      raise errors.CheckpointError(
          f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, but "
          f"the model's {'/'.join(key)} needs {want} (laid out as the "
          "checkpoint's); the config does not match the checkpoint's "
          "architecture")
    flat[key] = value.astype(np.asarray(flat[key]).dtype)
    given.add(key)
  skip = set(skip)
  missing = ["/".join(k) for k in flat
             if k not in given and "/".join(k) not in skip]
  if missing:
    raise errors.CheckpointError(
        f"{source} has no tensor for {len(missing)} parameter(s) of the "
        f"model, e.g. {missing[:3]}; is it truncated, or a checkpoint of "
        "another model?")
  return traverse_util.unflatten_dict(flat)

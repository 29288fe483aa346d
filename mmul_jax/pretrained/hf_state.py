"""A Hugging Face state dict into a Flax parameter tree whose modules carry
the same names (`models.blip`): `a.layer.0.dense.weight` is
`a/layer_0/dense/kernel`, transposed. Every tensor's name, shape and dtype
is checked, and every parameter must be given; the first problem is one
line naming the tensor."""

from __future__ import annotations

import re
from typing import Iterable

import numpy as np

from mmul_jax import errors
from mmul_jax.pretrained import clip_weights

# Buffers that carry no weights.
IGNORED_SUFFIXES = ("position_ids", "num_batches_tracked")


def flax_path(name: str) -> tuple[str, ...]:
  """The module path of a tensor name, with `layer.0` as `layer_0` and the
  leaf (`weight`, `bias` or a raw parameter) kept last."""
  joined = re.sub(r"\.(\d+)(?=\.|$)", r"_\1", name)
  return tuple(joined.split("."))


def _leaf(node: dict, leaf: str, name: str, source: str):
  """Which of the module's parameters `leaf` is, and how to lay it out."""
  if leaf == "bias" and "bias" in node:
    return "bias", lambda t: t
  if leaf == "weight":
    for target, fn in (("kernel", _kernel), ("scale", lambda t: t),
                       ("embedding", lambda t: t)):
      if target in node:
        return target, fn
  if leaf in node:  # a raw parameter (`class_embedding`)
    return leaf, lambda t: t
  raise errors.CheckpointError(
      f"{source}: tensor {name!r} has no place in the model (its module "
      f"holds {sorted(node)}); is this the right checkpoint?")


def _kernel(t: np.ndarray) -> np.ndarray:
  if t.ndim == 2:  # Linear (out, in) -> Dense (in, out)
    return t.T
  if t.ndim == 4:  # Conv2d (out, in, kh, kw) -> (kh, kw, in, out)
    return t.transpose(2, 3, 1, 0)
  return t


def import_state(params: dict, state: dict[str, np.ndarray], *,
                 source: str, prefix: str = "",
                 skip: Iterable[str] = ()) -> dict:
  """`params` (a Flax tree, e.g. from `init`) with every tensor of `state`
  in its place.

  Args:
    params: the model's parameters (its `"params"` collection's tree).
    state: tensor name -> array, e.g. `clip_weights.read_state_dict`.
    source: the checkpoint's path, for messages.
    prefix: a prefix the state's names carry that the tree does not.
    skip: parameter paths ("a/b/c") the checkpoint does not hold, kept as
      given (BLIP's retrieval checkpoints keep no temperature).

  Returns:
    A new tree, every leaf but `skip`'s from `state`, in `params`' dtypes.

  Raises:
    CheckpointError: a tensor with no place, of the wrong shape, not
      floating point or not finite, or a parameter no tensor gives.
  """
  out = _copy(params)
  given = set()
  for name, tensor in state.items():
    if name.endswith(IGNORED_SUFFIXES):
      continue
    short = name[len(prefix):] if prefix and name.startswith(prefix) else name
    *modules, leaf = flax_path(short)
    node = out
    for m in modules:
      if not isinstance(node, dict) or m not in node:
        raise errors.CheckpointError(
            f"{source}: tensor {name!r} has no place in the model (no "
            f"module {'/'.join(modules)}); is this the right checkpoint, "
            "and does the config match its architecture?")
      node = node[m]
    target, fn = _leaf(node, leaf, name, source)
    clip_weights.check_weight(tensor, name, source)
    value = np.asarray(fn(tensor))
    want = np.shape(node[target])
    if value.shape != want:
      raise errors.CheckpointError(
          f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, but "
          f"the model's {'/'.join((*modules, target))} needs {want} (laid "
          "out as the checkpoint's); the config does not match the "
          "checkpoint's architecture")
    node[target] = value.astype(np.asarray(node[target]).dtype)
    given.add("/".join((*modules, target)))
  missing = [p for p in _paths(out) if p not in given and p not in set(skip)]
  if missing:
    raise errors.CheckpointError(
        f"{source} has no tensor for {len(missing)} parameter(s) of the "
        f"model, e.g. {missing[:3]}; is it truncated, or a checkpoint of "
        "another model?")
  return out


def _copy(tree):
  if isinstance(tree, dict):
    return {k: _copy(v) for k, v in tree.items()}
  return tree


def _paths(tree, prefix=()):
  for k, v in tree.items():
    if isinstance(v, dict):
      yield from _paths(v, (*prefix, k))
    else:
      yield "/".join((*prefix, k))

"""Simulated weight quantisation of a parameter tree (issue 46's check
that forgetting survives quantisation: Zhang et al. 2024 found 4-bit
quantisation restores much of what LLM unlearning removed).

Each scheme quantises every floating weight of two or more dimensions
(dense and convolution kernels, embeddings) and dequantises it back to
float32, so the task's own evaluation reads the quantised model; biases
and norm scales stay as they are, as in weight-only quantisation. This
simulates round-to-nearest and NF4 storage, not GPTQ / AWQ (which choose
the rounding with calibration data) and not low-precision arithmetic.

Schemes (`parse`):
  "bf16"            every weight rounded to bfloat16.
  "int<b>"          symmetric round-to-nearest with b bits (2..8), one
                    scale per output channel (the last axis).
  "int<b>_g<n>"     the same, one scale per group of n consecutive inputs
                    of each output channel (the flattened other axes).
  "nf4", "nf4_g<n>" 4-bit NormalFloat (QLoRA, Dettmers et al. 2023): each
                    group of n (default 64) scaled by its absolute
                    maximum to [-1, 1] and rounded to the nearest of the
                    16 normal quantiles (`nf4_codebook`).
"""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

NF4_OFFSET = 0.9677083  # QLoRA's: the outermost quantile kept finite
NF4_GROUP = 64


def nf4_codebook() -> np.ndarray:
  """The 16 NF4 values: 8 positive and 7 negative quantiles of N(0, 1)
  at evenly spaced probabilities from `NF4_OFFSET` to 1/2, and zero,
  scaled to [-1, 1] (QLoRA's construction, computed here)."""
  pos = stats.norm.ppf(np.linspace(NF4_OFFSET, 0.5, 9)[:-1])
  neg = -stats.norm.ppf(np.linspace(NF4_OFFSET, 0.5, 8)[:-1])
  values = np.sort(np.concatenate([pos, [0.0], neg]))
  return (values / np.abs(values).max()).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Scheme:
  kind: str  # "bf16", "int" or "nf4"
  bits: int = 16
  group: int = 0  # 0: one scale per output channel

  @property
  def name(self) -> str:
    if self.kind == "bf16":
      return "bf16"
    base = "nf4" if self.kind == "nf4" else f"int{self.bits}"
    return base + (f"_g{self.group}" if self.group else "")


def parse(name: str) -> Scheme:
  """The scheme a name gives (module docstring); ValueError otherwise."""
  if name == "bf16":
    return Scheme("bf16")
  m = re.fullmatch(r"(int([2-8])|nf4)(?:_g([1-9][0-9]*))?", name)
  if not m:
    raise ValueError(
        f"unknown quantisation scheme {name!r}: use bf16, int<bits> "
        "(2..8), int<bits>_g<group>, nf4 or nf4_g<group>")
  if m.group(1) == "nf4":
    return Scheme("nf4", 4, int(m.group(3) or NF4_GROUP))
  return Scheme("int", int(m.group(2)), int(m.group(3) or 0))


def _grouped(w: jax.Array, group: int):
  """`w` as `(groups, group, out)` over its flattened input axes (zero
  padded to a multiple of `group`; `group` 0: one group), and how to
  undo it."""
  out = w.shape[-1]
  flat = w.reshape(-1, out)
  k = flat.shape[0]
  g = group or k
  pad = (-k) % g
  flat = jnp.pad(flat, ((0, pad), (0, 0)))
  return flat.reshape(-1, g, out), lambda x: x.reshape(-1, out)[:k].reshape(
      w.shape)


def quantize_array(w: jax.Array, scheme: Scheme) -> jax.Array:
  """`w` quantised by `scheme` and dequantised to its dtype."""
  if scheme.kind == "bf16":
    return w.astype(jnp.bfloat16).astype(w.dtype)
  x = w.astype(jnp.float32)
  groups, back = _grouped(x, scheme.group)
  absmax = jnp.max(jnp.abs(groups), axis=1, keepdims=True)
  if scheme.kind == "int":
    qmax = 2 ** (scheme.bits - 1) - 1
    scale = jnp.where(absmax > 0, absmax / qmax, 1.0)
    q = jnp.clip(jnp.round(groups / scale), -qmax, qmax) * scale
  else:
    book = jnp.asarray(nf4_codebook())
    scale = jnp.where(absmax > 0, absmax, 1.0)
    nearest = jnp.argmin(jnp.abs((groups / scale)[..., None] - book),
                         axis=-1)
    q = book[nearest] * scale
  return back(q).astype(w.dtype)


def quantizable(leaf) -> bool:
  """Weights of two or more dimensions in floating point."""
  return (hasattr(leaf, "ndim") and leaf.ndim >= 2
          and jnp.issubdtype(leaf.dtype, jnp.floating))


def quantize_tree(params, scheme: Scheme | str):
  """`params` with every `quantizable` leaf quantised by `scheme`."""
  scheme = parse(scheme) if isinstance(scheme, str) else scheme
  fn = jax.jit(lambda w: quantize_array(w, scheme))
  return jax.tree.map(lambda x: fn(x) if quantizable(x) else x, params)

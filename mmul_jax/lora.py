"""Parameter-efficient unlearning with low-rank adapters (LoRA).

The trainable state is only the adapters: for every 2-D `kernel` of the
frozen base model, `a` `(in, r)` and `b` `(r, out)`; the model used is
`base + (alpha / r) a @ b`. `b` starts at zero, so unlearning starts exactly
at the base (original) model. Any `LossTerm` works unchanged through
`lora_term`, which merges the adapters into the base before calling it; the
base travels as the first frozen model, so it is an argument of the jitted
step, not a constant baked into it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import traverse_util

from mmul_jax import losses

SEP = "/"


def _adapted(path: tuple, x) -> bool:
  return path[-1] == "kernel" and jnp.ndim(x) == 2


def init(base, *, rank: int, rng: jax.Array) -> dict:
  """Adapters for every 2-D kernel of `base`: `{"a/b/kernel": {"a", "b"}}`.

  `a` is Gaussian with std 1/sqrt(in), `b` zero (so the delta is zero).
  """
  flat = traverse_util.flatten_dict(base)
  out = {}
  for i, (path, x) in enumerate(sorted(flat.items())):
    if not _adapted(path, x):
      continue
    fan_in, fan_out = x.shape
    r = min(rank, fan_in, fan_out)
    a = jax.random.normal(jax.random.fold_in(rng, i), (fan_in, r),
                          x.dtype) / jnp.sqrt(fan_in).astype(x.dtype)
    out[SEP.join(path)] = {"a": a, "b": jnp.zeros((r, fan_out), x.dtype)}
  return out


def merge(base, adapters: dict, *, alpha: float):
  """`base` with `kernel += (alpha / r) a @ b` for every adapter."""
  flat = traverse_util.flatten_dict(base)
  for name, ab in adapters.items():
    path = tuple(name.split(SEP))
    r = ab["a"].shape[1]
    flat[path] = flat[path] + (alpha / r) * (ab["a"] @ ab["b"])
  return traverse_util.unflatten_dict(flat)


def trainable_fraction(base, adapters: dict) -> float:
  count = lambda t: sum(x.size for x in jax.tree.leaves(t))
  return count(adapters) / count(base)


def lora_term(term: losses.LossTerm, base, *,
              alpha: float) -> losses.LossTerm:
  """`term` over adapters: `apply(state, adapters, (base, frozen), ...)`.

  `base` is used once, to build `term`'s state from the starting model;
  in the step the base comes in as the first frozen model.
  """

  def init_fn(adapters):
    return term.init(merge(base, adapters, alpha=alpha))

  def apply_fn(state, adapters, frozen, batch, *, rng):
    base_params, term_frozen = frozen
    return term.apply(state, merge(base_params, adapters, alpha=alpha),
                      term_frozen, batch, rng=rng)

  return losses.LossTerm(init_fn, apply_fn)

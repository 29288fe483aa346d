"""Parameter-efficient unlearning with low-rank adapters (LoRA).

The trainable state is only the adapters: for every 2-D `kernel` of the
frozen base model, `a` `(in, r)` and `b` `(r, out)`; the model used is
`base + (alpha / r) a @ b`. `b` starts at zero, so unlearning starts exactly
at the base (original) model. Any `LossTerm` works unchanged through
`lora_term`, which merges the adapters into the base before calling it; the
base travels as the frozen model "base", so it is an argument of the jitted
step, not a constant baked into it. `trainable` is the one place a run
chooses between training every weight and training adapters.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import traverse_util

from mmul_jax import losses
from mmul_jax import optim

SEP = "/"


def _adapted(path: tuple, x, targets=()) -> bool:
  """A 2-D kernel, of a module named in `targets` when given."""
  return (path[-1] == "kernel" and jnp.ndim(x) == 2
          and (not targets or path[-2] in targets))


def _in_full(path: tuple, full) -> bool:
  """A parameter of a module trained in full (`full`: module names)."""
  return path[0] == "params" and any(m in path[:-1] for m in full)


def init(base, *, rank: int, rng: jax.Array, targets=(), full=(),
         cap: bool = True) -> dict:
  """Adapters for every 2-D kernel of `base` (of the modules named in
  `targets`, when given): `{"a/b/kernel": {"a", "b"}}`, and every
  parameter of the modules named in `full` trained whole: `{"a/b/x":
  {"full": x}}` (MU-Bench's `modules_to_save`, its classifier).

  `a` is Gaussian with std 1/sqrt(in), `b` zero (so the delta is zero).
  The rank is at most the kernel's smaller side unless `cap` is False
  (PEFT's does not cap it; MU-Bench's 50% settings need more).
  """
  flat = traverse_util.flatten_dict(base)
  out = {}
  for i, (path, x) in enumerate(sorted(flat.items())):
    if full and _in_full(path, full):
      out[SEP.join(path)] = {"full": jnp.copy(x)}
      continue
    if not _adapted(path, x, targets):
      continue
    fan_in, fan_out = x.shape
    r = min(rank, fan_in, fan_out) if cap else rank
    a = jax.random.normal(jax.random.fold_in(rng, i), (fan_in, r),
                          x.dtype) / jnp.sqrt(fan_in).astype(x.dtype)
    out[SEP.join(path)] = {"a": a, "b": jnp.zeros((r, fan_out), x.dtype)}
  return out


def rank_for_fraction(base, fraction: float, *, targets=(),
                      full=()) -> int:
  """The rank whose adapters (on `targets`' kernels) with the `full`
  modules make `fraction` of the base's weights trainable, at least 1
  (MU-Bench's 10/20/50% settings; `trainable_fraction` reports what is
  reached)."""
  flat = traverse_util.flatten_dict(optim.trainable(base))
  total = sum(x.size for x in flat.values())
  whole = sum(x.size for p, x in flat.items() if full and _in_full(p, full))
  per_rank = sum(sum(x.shape) for p, x in flat.items()
                 if not (full and _in_full(p, full))
                 and _adapted(p, x, targets))
  if not per_rank:
    raise ValueError(f"no 2-D kernel of a module named {tuple(targets)} "
                     "to adapt")
  return max(1, round((fraction * total - whole) / per_rank))


def merge(base, adapters: dict, *, alpha: float):
  """`base` with `kernel += (alpha / r) a @ b` for every adapter (`alpha`
  0: a scale of 1, PEFT's `lora_alpha = r`), and the whole-trained
  parameters in place."""
  flat = traverse_util.flatten_dict(base)
  for name, ab in adapters.items():
    path = tuple(name.split(SEP))
    if "full" in ab:
      flat[path] = ab["full"]
      continue
    r = ab["a"].shape[1]
    scale = alpha / r if alpha else 1.0
    flat[path] = flat[path] + scale * (ab["a"] @ ab["b"])
  return traverse_util.unflatten_dict(flat)


def trainable_fraction(base, adapters: dict) -> float:
  """Adapter entries over the base's weights (batch-norm statistics,
  which nothing trains, not counted)."""
  count = lambda t: sum(x.size for x in jax.tree.leaves(t))
  return count(adapters) / count(optim.trainable(base))


BASE = "base"  # the frozen model the adapters are added to


def lora_term(term: losses.LossTerm, base, *,
              alpha: float) -> losses.LossTerm:
  """`term` over adapters: `apply(state, adapters, frozen, ...)` with the
  base model as `frozen["base"]`; `term` gets the merged model and the
  same frozen dict.

  `base` is used once, to build `term`'s state from the starting model;
  in the step the base comes in as a frozen model.
  """

  def init_fn(adapters):
    return term.init(merge(base, adapters, alpha=alpha))

  def apply_fn(state, adapters, frozen, batch, *, rng):
    return term.apply(state, merge(frozen[BASE], adapters, alpha=alpha),
                      frozen, batch, rng=rng)

  return losses.LossTerm(init_fn, apply_fn)


@dataclasses.dataclass(frozen=True)
class Trainable:
  """What an unlearning run trains, starting from the original model.

  loss: the loss over the trained parameters; init(): them, fresh;
  frozen: frozen models the loss needs beyond the method's ("base");
  model_params(trained): the model's parameters; info(trained): numbers
  worth reporting.
  """

  loss: losses.LossTerm
  init: Callable[[], Any]
  frozen: dict
  model_params: Callable[[Any], Any]
  info: Callable[[Any], dict]


def trainable(term: losses.LossTerm, original, *, rank: int, alpha: float,
              rng: jax.Array, fraction: float = 0.0, targets=(),
              full=()) -> Trainable:
  """Every weight (`rank` and `fraction` 0: a copy of `original`, since the
  step donates its state and the original must survive), or adapters over
  the original, its frozen base: rank `rank`, or the rank that makes
  `fraction` of the weights trainable (`rank_for_fraction`, uncapped), on
  every 2-D kernel or those of the modules named in `targets`, with the
  modules named in `full` trained whole."""
  if not rank and not fraction:
    return Trainable(term, lambda: jax.tree.map(jnp.copy, original), {},
                     lambda trained: trained, lambda trained: {})
  if fraction:
    rank = rank_for_fraction(original, fraction, targets=targets, full=full)
  return Trainable(
      lora_term(term, original, alpha=alpha),
      lambda: init(original, rank=rank, rng=rng, targets=targets, full=full,
                   cap=not fraction), {BASE: original},
      lambda trained: merge(original, trained, alpha=alpha),
      lambda trained: {"trainable_fraction": trainable_fraction(original,
                                                                trained),
                       "lora_rank": rank})

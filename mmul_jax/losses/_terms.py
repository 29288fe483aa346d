"""An optax-style algebra of loss terms.

A `LossTerm` is a pair of pure functions, like an optax
`GradientTransformation`:

    init(params) -> state
    apply(state, params, frozen_params, batch, *, rng) -> (loss, aux, state)

`loss` is a scalar, `aux` a flat dict of scalars for logging, and `state`
whatever the term carries from step to step (a step count for schedules,
injected weights). Combinators build methods out of terms, the way
`optax.chain` builds optimisers: `weighted_sum` (weights constant, scheduled
or injected into the state, so changing them never recompiles), `negate`
(gradient ascent), `restrict` / `on_forget` / `on_retain` (use one part of a
`{"df": ..., "dr": ...}` batch), `map_batch` (corrupt labels, concatenate
parts), `precompute` (representations several terms share), `with_frozen`
(pick one of several frozen models) and `alternate` (switch terms by step,
as SCRUB's max/min steps).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp

Schedule = Callable[[jax.Array], jax.Array]  # step count -> value


class LossTerm(NamedTuple):
  init: Callable[[Any], Any]
  apply: Callable[..., tuple[jax.Array, dict, Any]]


def _no_state(params):
  del params
  return ()


def loss_term(fn: Callable[..., tuple[jax.Array, dict]], *,
              reduce: Callable[[jax.Array], jax.Array] = jnp.mean
              ) -> LossTerm:
  """A stateless term from `fn(params, frozen, batch, *, rng)`.

  `fn` returns `(values, aux)` where `values` are per-example losses `(B,)`
  (or already a scalar); `reduce` turns them into the loss (batch mean).
  """

  def apply(state, params, frozen_params, batch, *, rng):
    values, aux = fn(params, frozen_params, batch, rng=rng)
    return reduce(values), aux, state

  return LossTerm(_no_state, apply)


class WeightedSumState(NamedTuple):
  count: jax.Array  # int32: apply calls so far, the argument of schedules
  weights: dict[str, jax.Array]  # the weights used last (edit to inject)
  inner: dict[str, Any]


def weighted_sum(terms: Mapping[str, LossTerm], *,
                 weights: Mapping[str, float | Schedule]) -> LossTerm:
  """L = Σ_k w_k L_k.

  A weight is a number or a schedule `step -> weight` (any optax schedule).
  Weights live in the state as arrays, like `optax.inject_hyperparams`: a
  number can be changed between steps by editing `state.weights[name]`, and
  a schedule is re-evaluated at every step, without recompiling. `aux` holds
  each term's loss under its name and its aux under `name/key`.
  """
  if set(terms) != set(weights):
    raise ValueError(f"weighted_sum needs one weight per term: terms "
                     f"{sorted(terms)}, weights {sorted(weights)}")
  if not terms:
    raise ValueError("weighted_sum needs at least one term")
  names = sorted(terms)

  def weight_at(name, count, injected):
    w = weights[name]
    return jnp.asarray(w(count) if callable(w) else injected, jnp.float32)

  def init(params):
    count = jnp.zeros((), jnp.int32)
    return WeightedSumState(
        count, {n: weight_at(n, count, weights[n]) for n in names},
        {n: terms[n].init(params) for n in names})

  def apply(state, params, frozen_params, batch, *, rng):
    total = jnp.zeros((), jnp.float32)
    aux, inner, used = {}, {}, {}
    for k, name in enumerate(names):
      value, term_aux, inner[name] = terms[name].apply(
          state.inner[name], params, frozen_params, batch,
          rng=jax.random.fold_in(rng, k))
      used[name] = weight_at(name, state.count, state.weights[name])
      total = total + used[name] * value
      aux[name] = value
      aux.update({f"{name}/{key}": v for key, v in term_aux.items()})
    return total, aux, WeightedSumState(state.count + 1, used, inner)

  return LossTerm(init, apply)


def negate(term: LossTerm) -> LossTerm:
  """−L: descending it ascends L (NegGrad's gradient ascent)."""

  def apply(state, params, frozen_params, batch, *, rng):
    value, aux, state = term.apply(state, params, frozen_params, batch,
                                   rng=rng)
    return -value, aux, state

  return LossTerm(term.init, apply)


def map_batch(term: LossTerm,
              fn: Callable[[Any, jax.Array], Any]) -> LossTerm:
  """Applies `term` to `fn(batch, rng)` (corrupted labels, merged parts)."""

  def apply(state, params, frozen_params, batch, *, rng):
    k_map, k_term = jax.random.split(rng)
    return term.apply(state, params, frozen_params, fn(batch, k_map),
                      rng=k_term)

  return LossTerm(term.init, apply)


def restrict(term: LossTerm, part: str) -> LossTerm:
  """Applies `term` to `batch[part]` only, e.g. the forget part `"df"`."""
  return map_batch(term, lambda batch, rng: batch[part])


def on_forget(term: LossTerm) -> LossTerm:
  """`term` on the deleted part of a `{"df": ..., "dr": ...}` batch."""
  return restrict(term, "df")


def on_retain(term: LossTerm) -> LossTerm:
  """`term` on the retained part of a `{"df": ..., "dr": ...}` batch."""
  return restrict(term, "dr")


def precompute(term: LossTerm,
               fn: Callable[..., Any]) -> LossTerm:
  """Runs `fn(params, frozen_params, batch, *, rng) -> batch` once and
  applies `term` to the batch it returns.

  For representations that several terms share: `fn` adds them to the batch
  (e.g. the deleted items' embeddings, used by both modality decoupling and
  unimodal retention), so the model runs once and gradients flow through
  both uses. `term` gets the same `rng` as without `precompute`.
  """

  def apply(state, params, frozen_params, batch, *, rng):
    batch = fn(params, frozen_params, batch,
               rng=jax.random.fold_in(rng, 0x5EED))
    return term.apply(state, params, frozen_params, batch, rng=rng)

  return LossTerm(term.init, apply)


def with_frozen(term: LossTerm, key: str) -> LossTerm:
  """Gives `term` the frozen model `frozen_params[key]` (several teachers)."""

  def apply(state, params, frozen_params, batch, *, rng):
    return term.apply(state, params, frozen_params[key], batch, rng=rng)

  return LossTerm(term.init, apply)


class AlternateState(NamedTuple):
  count: jax.Array
  inner: tuple


def alternate(terms: Sequence[LossTerm], *,
              select: Callable[[jax.Array], jax.Array]) -> LossTerm:
  """At each step only term `select(step)` runs (a `lax.switch`).

  Every step pays for one term only. `aux` is the union of the terms' aux
  (zero for the terms that did not run) plus `phase`, the index that ran.
  """
  terms = tuple(terms)
  if not terms:
    raise ValueError("alternate needs at least one term")

  def init(params):
    return AlternateState(jnp.zeros((), jnp.int32),
                          tuple(t.init(params) for t in terms))

  def apply(state, params, frozen_params, batch, *, rng):
    def run(k, operands):
      inner, params, frozen_params, batch, rng = operands
      value, aux, new = terms[k].apply(inner[k], params, frozen_params,
                                       batch, rng=rng)
      return value, aux, inner[:k] + (new,) + inner[k + 1:]

    operands = (state.inner, params, frozen_params, batch, rng)
    shapes = [jax.eval_shape(lambda o, k=k: run(k, o)[1], operands)
              for k in range(len(terms))]
    union = {name: s for aux in shapes for name, s in aux.items()}

    def branch(k):
      def f(operands):
        value, aux, inner = run(k, operands)
        full = {name: aux[name] if name in aux else
                jnp.zeros(s.shape, s.dtype) for name, s in union.items()}
        return value.astype(jnp.float32), full, inner
      return f

    index = jnp.clip(jnp.asarray(select(state.count), jnp.int32), 0,
                     len(terms) - 1)
    value, aux, inner = jax.lax.switch(
        index, [branch(k) for k in range(len(terms))], operands)
    return value, {**aux, "phase": index}, AlternateState(state.count + 1,
                                                           inner)

  return LossTerm(init, apply)

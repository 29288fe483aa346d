"""An optax-style algebra of loss terms.

A `LossTerm` is a pair of pure functions, like an optax
`GradientTransformation` (`TermInit`, `TermApply`):

    init(params) -> state
    apply(state, params, frozen, batch, *, rng) -> (loss, aux, state)

`loss` is a scalar, `aux` a flat dict of scalars for logging, and `state`
whatever the term carries from step to step (a step count for schedules,
injected weights). `frozen` holds the frozen models the term compares
against; this project's loop passes a dict of named parameter trees
(`"original"` always, `"bad"` for Bad Teaching, `"base"` under LoRA), but
the algebra passes it through untouched, so any shape works. Combinators build methods out of terms, the way
`optax.chain` builds optimisers: `weighted_sum` (weights constant, scheduled
or injected into the state, so changing them never recompiles), `negate`
(gradient ascent), `restrict` / `on_forget` / `on_retain` (use one part of a
`{"df": ..., "dr": ...}` batch), `map_batch` (corrupt labels, concatenate
parts), `precompute` (representations several terms share), `with_frozen`
(pick one of several frozen models) and `alternate` (switch terms by step,
as SCRUB's max/min steps).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Protocol, Sequence

import jax
import jax.numpy as jnp

Schedule = Callable[[jax.Array], jax.Array]  # step count -> value


class TermInit(Protocol):
  """`init(params) -> state`: the term's state before the first step."""

  def __call__(self, params: Any) -> Any:
    ...


class TermApply(Protocol):
  """`apply(state, params, frozen, batch, *, rng) -> (loss, aux, state)`."""

  def __call__(self, state: Any, params: Any, frozen: Any, batch: Any, *,
               rng: jax.Array) -> tuple[jax.Array, dict[str, jax.Array],
                                        Any]:
    ...


class LossTerm(NamedTuple):
  """A loss term: `init` and `apply` (see the module docstring)."""

  init: TermInit
  apply: TermApply


def _no_state(params):
  del params
  return ()


def loss_term(fn: Callable[..., tuple[jax.Array, dict]], *,
              reduce: Callable[[jax.Array], jax.Array] = jnp.mean
              ) -> LossTerm:
  """A stateless term from `fn(params, frozen, batch, *, rng)`.

  Args:
    fn: returns `(values, aux)`, `values` the per-example losses `(B,)` (or
      already a scalar) and `aux` a dict of scalars to log.
    reduce: turns `values` into the loss (default: the batch mean).

  Returns:
    A `LossTerm` whose state is `()`.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> sq = losses.loss_term(
    ...     lambda p, frozen, b, *, rng: ((b["x"] * p) ** 2, {}))
    >>> loss, aux, state = sq.apply(sq.init(2.0), 2.0, None,
    ...                             {"x": jnp.array([1.0, 3.0])},
    ...                             rng=jax.random.key(0))
    >>> float(loss)  # mean of 4 and 36
    20.0
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

  Weights live in the state as arrays, like `optax.inject_hyperparams`: a
  number can be changed between steps by editing `state.weights[name]`, and
  a schedule is re-evaluated at every step, without recompiling. Term k gets
  `fold_in(rng, k)`, k its rank in sorted name order.

  Args:
    terms: the terms by name.
    weights: one per term: a number or a schedule `step -> weight` (any
      optax schedule).

  Returns:
    A `LossTerm` with a `WeightedSumState`; `aux` holds each term's loss
    under its name and its aux under `name/key`.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> const = lambda c: losses.loss_term(
    ...     lambda p, f, b, *, rng: (jnp.float32(c), {}))
    >>> total = losses.weighted_sum({"a": const(1.0), "b": const(10.0)},
    ...                             weights={"a": 2.0, "b": 0.5})
    >>> loss, aux, state = total.apply(total.init({}), {}, None, {},
    ...                                rng=jax.random.key(0))
    >>> float(loss), float(aux["b"])
    (7.0, 10.0)
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
  """−L: descending it ascends L (NegGrad's gradient ascent).

  Args:
    term: the term to ascend.

  Returns:
    A `LossTerm` with the same state and aux and the loss negated.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> one = losses.loss_term(lambda p, f, b, *, rng: (jnp.float32(1), {}))
    >>> up = losses.negate(one)
    >>> float(up.apply(up.init({}), {}, None, {}, rng=jax.random.key(0))[0])
    -1.0
  """

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
  """Applies `term` to `batch[part]` only, e.g. the forget part `"df"`.

  Args:
    term: a term over a flat batch.
    part: the key of the part it reads.

  Returns:
    A `LossTerm` over the whole batch.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> mean_x = losses.loss_term(lambda p, f, b, *, rng: (b["x"], {}))
    >>> batch = {"df": {"x": jnp.ones(2)}, "dr": {"x": jnp.zeros(2)}}
    >>> t = losses.restrict(mean_x, "df")  # = losses.on_forget(mean_x)
    >>> float(t.apply((), {}, None, batch, rng=jax.random.key(0))[0])
    1.0
  """
  return map_batch(term, lambda batch, rng: batch[part])


def on_forget(term: LossTerm) -> LossTerm:
  """`term` on the deleted part of a `{"df": ..., "dr": ...}` batch."""
  return restrict(term, "df")


def on_retain(term: LossTerm) -> LossTerm:
  """`term` on the retained part of a `{"df": ..., "dr": ...}` batch."""
  return restrict(term, "dr")


def precompute(term: LossTerm,
               fn: Callable[..., Any]) -> LossTerm:
  """Runs `fn` once and applies `term` to the batch it returns.

  For representations that several terms share: `fn` adds them to the batch
  (e.g. the deleted items' embeddings, used by both modality decoupling and
  unimodal retention), so the model runs once and gradients flow through
  both uses.

  Args:
    term: the term (often a `weighted_sum`) that reads what `fn` adds.
    fn: `fn(params, frozen, batch, *, rng) -> batch`; it gets
      `fold_in(rng, 0x5EED)`.

  Returns:
    A `LossTerm`; `term` gets the same `rng` as without `precompute`.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> read = losses.loss_term(lambda p, f, b, *, rng: (b["h"], {}))
    >>> add_h = lambda p, f, b, *, rng: {**b, "h": p * b["x"]}
    >>> t = losses.precompute(read, add_h)
    >>> float(t.apply((), 3.0, None, {"x": jnp.ones(2)},
    ...               rng=jax.random.key(0))[0])
    3.0
  """

  def apply(state, params, frozen_params, batch, *, rng):
    batch = fn(params, frozen_params, batch,
               rng=jax.random.fold_in(rng, 0x5EED))
    return term.apply(state, params, frozen_params, batch, rng=rng)

  return LossTerm(term.init, apply)


def with_frozen(term: LossTerm, key: str) -> LossTerm:
  """Gives `term` the frozen model `frozen[key]` instead of all of them.

  For terms written against a single frozen tree, when `frozen` is a dict
  of several (this project's model terms take the dict and a teacher
  name instead).

  Args:
    term: a term that reads one frozen model.
    key: the model it should read.

  Returns:
    A `LossTerm` with `term`'s state.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> gap = losses.loss_term(lambda p, f, b, *, rng: ((p - f) ** 2, {}))
    >>> t = losses.with_frozen(gap, "bad")
    >>> float(t.apply((), 3.0, {"original": 3.0, "bad": 1.0}, {},
    ...               rng=jax.random.key(0))[0])
    4.0
  """

  def apply(state, params, frozen_params, batch, *, rng):
    return term.apply(state, params, frozen_params[key], batch, rng=rng)

  return LossTerm(term.init, apply)


class AlternateState(NamedTuple):
  count: jax.Array
  inner: tuple


def alternate(terms: Sequence[LossTerm], *,
              select: Callable[[jax.Array], jax.Array]) -> LossTerm:
  """At each step only term `select(step)` runs (a `lax.switch`).

  Every step pays for one term only.

  Args:
    terms: the terms to switch between.
    select: `step -> index` of the term to run (clipped to the range).

  Returns:
    A `LossTerm` with an `AlternateState`; `aux` is the union of the terms'
    aux (zero for the terms that did not run) plus `phase`, the index that
    ran.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> const = lambda c: losses.loss_term(
    ...     lambda p, f, b, *, rng: (jnp.float32(c), {}))
    >>> t = losses.alternate([const(1.0), const(2.0)],
    ...                      select=lambda step: step % 2)
    >>> state, seen = t.init({}), []
    >>> for _ in range(3):
    ...   loss, aux, state = t.apply(state, {}, None, {},
    ...                              rng=jax.random.key(0))
    ...   seen.append(float(loss))
    >>> seen
    [1.0, 2.0, 1.0]
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

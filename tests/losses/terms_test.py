"""The loss-term algebra against numpy, and that it compiles once."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mmul_jax import losses

RNG = jax.random.key(0)


def _sq(target_key="y"):
  """Per-example squared error of a linear model: (x·w − y)²."""
  def fn(params, frozen, batch, *, rng):
    del frozen, rng
    err = batch["x"] @ params["w"] - batch[target_key]
    return err ** 2, {"mean_err": jnp.mean(err)}
  return losses.loss_term(fn)


def _np_sq(w, batch):
  return np.mean((batch["x"] @ w - batch["y"]) ** 2)


def _data(seed=0, n=5):
  r = np.random.default_rng(seed)
  return {"x": r.normal(size=(n, 3)).astype(np.float32),
          "y": r.normal(size=n).astype(np.float32)}


PARAMS = {"w": np.array([0.5, -1.0, 2.0], np.float32)}


def _apply(term, batch, state=None, params=PARAMS, frozen=None, rng=RNG):
  state = term.init(params) if state is None else state
  return term.apply(state, params, frozen, batch, rng=rng)


def test_loss_term_reduces_per_example_values_by_mean():
  batch = _data()
  value, aux, state = _apply(_sq(), batch)
  np.testing.assert_allclose(value, _np_sq(PARAMS["w"], batch), rtol=1e-6)
  assert state == () and set(aux) == {"mean_err"}


def test_weighted_sum_constant_weights_and_aux_names():
  df, dr = _data(1), _data(2)
  term = losses.weighted_sum(
      {"a": losses.on_forget(_sq()), "b": losses.on_retain(_sq())},
      weights={"a": 0.3, "b": 2.0})
  value, aux, state = _apply(term, {"df": df, "dr": dr})
  expected_a, expected_b = _np_sq(PARAMS["w"], df), _np_sq(PARAMS["w"], dr)
  np.testing.assert_allclose(value, 0.3 * expected_a + 2.0 * expected_b,
                             rtol=1e-6)
  np.testing.assert_allclose(aux["a"], expected_a, rtol=1e-6)
  assert {"a/mean_err", "b/mean_err"} <= set(aux)
  assert int(state.count) == 1


def test_weighted_sum_schedules_and_injected_weights_never_recompile():
  batch = {"df": _data(1), "dr": _data(2)}
  sched = optax.linear_schedule(1.0, 0.0, 4)  # 1, .75, .5, .25, 0
  term = losses.weighted_sum(
      {"a": losses.on_forget(_sq()), "b": losses.on_retain(_sq())},
      weights={"a": sched, "b": 1.0})

  @jax.jit
  @chex.assert_max_traces(n=1)
  def apply(state, params):
    return term.apply(state, params, None, batch, rng=RNG)

  state = term.init(PARAMS)
  la, lb = (_np_sq(PARAMS["w"], batch[k]) for k in ("df", "dr"))
  for t in range(5):
    value, _, state = apply(state, PARAMS)
    np.testing.assert_allclose(value, (1 - t / 4) * la + lb, rtol=1e-5)
  # Inject a new constant weight through the state: same program.
  state = state._replace(weights={**state.weights, "b": jnp.float32(3.0)})
  value, _, _ = apply(state, PARAMS)
  np.testing.assert_allclose(value, 3.0 * lb, rtol=1e-5)  # a is 0 now


def test_weighted_sum_needs_one_weight_per_term():
  with pytest.raises(ValueError, match="one weight per term"):
    losses.weighted_sum({"a": _sq()}, weights={"b": 1.0})


def test_negate_flips_value_and_gradient():
  batch = _data()
  g = jax.grad(lambda p: _apply(_sq(), batch, params=p)[0])(PARAMS)
  g_neg = jax.grad(lambda p: _apply(losses.negate(_sq()), batch,
                                    params=p)[0])(PARAMS)
  np.testing.assert_allclose(g_neg["w"], -g["w"], rtol=1e-6)
  # numpy gradient of mean (x·w − y)²: 2/n Xᵀ(Xw − y)
  x, y = batch["x"], batch["y"]
  np.testing.assert_allclose(
      g["w"], 2 / len(y) * x.T @ (x @ PARAMS["w"] - y), rtol=1e-5)


def test_restrict_reads_only_its_part():
  df, dr = _data(1), _data(2)
  for make, part in ((losses.on_forget, df), (losses.on_retain, dr)):
    value, _, _ = _apply(make(_sq()), {"df": df, "dr": dr})
    np.testing.assert_allclose(value, _np_sq(PARAMS["w"], part), rtol=1e-6)
  value, _, _ = _apply(losses.restrict(_sq(), "extra"),
                       {"extra": df, "dr": dr})
  np.testing.assert_allclose(value, _np_sq(PARAMS["w"], df), rtol=1e-6)


def test_map_batch_applies_the_transform_with_its_own_rng():
  batch = _data()
  seen = []

  def shuffle_targets(b, rng):
    seen.append(rng)
    return {**b, "y": jax.random.permutation(rng, b["y"])}

  value, _, _ = _apply(losses.map_batch(_sq(), shuffle_targets), batch)
  k_map, _ = jax.random.split(RNG)
  y = np.asarray(jax.random.permutation(k_map, batch["y"]))
  np.testing.assert_allclose(value, _np_sq(PARAMS["w"], {**batch, "y": y}),
                             rtol=1e-6)


def test_with_frozen_picks_the_named_model():
  def distance(params, frozen, batch, *, rng):
    del batch, rng
    return jnp.sum((params["w"] - frozen["w"]) ** 2), {}

  frozen = {"good": {"w": np.zeros(3, np.float32)},
            "bad": {"w": np.ones(3, np.float32)}}
  term = losses.loss_term(distance)
  for key, ref in (("good", 0.0), ("bad", 1.0)):
    value, _, _ = _apply(losses.with_frozen(term, key), {}, frozen=frozen)
    np.testing.assert_allclose(value, np.sum((PARAMS["w"] - ref) ** 2),
                               rtol=1e-6)


def test_alternate_runs_the_selected_term_and_compiles_once():
  batch = {"df": _data(1), "dr": _data(2)}
  counting = losses.weighted_sum({"s": losses.on_retain(_sq())},
                                 weights={"s": 1.0})
  term = losses.alternate(
      [losses.negate(losses.on_forget(_sq())), counting],
      select=lambda step: jnp.where(step % 3 == 0, 0, 1))

  @jax.jit
  @chex.assert_max_traces(n=1)
  def apply(state):
    return term.apply(state, PARAMS, None, batch, rng=RNG)

  la, lb = (_np_sq(PARAMS["w"], batch[k]) for k in ("df", "dr"))
  state = term.init(PARAMS)
  for t in range(6):
    value, aux, state = apply(state)
    first = t % 3 == 0
    np.testing.assert_allclose(value, -la if first else lb, rtol=1e-5)
    assert int(aux["phase"]) == (0 if first else 1)
    assert set(aux) >= {"mean_err", "s", "s/mean_err", "phase"}
    if first:
      assert float(aux["s"]) == 0.0  # the term that did not run
  # Only the second term's state advanced, on its 4 steps.
  assert int(state.count) == 6 and int(state.inner[1].count) == 4


def test_terms_are_finite_and_compile_once_under_grad():
  batch = {"df": _data(1), "dr": _data(2)}
  def pull(params, frozen, batch, *, rng):
    del batch, rng
    return jnp.sum((params["w"] - frozen["w"]) ** 2), {}

  term = losses.weighted_sum(
      {"f": losses.negate(losses.on_forget(_sq())),
       "r": losses.on_retain(losses.map_batch(
           _sq(), lambda b, rng: {**b, "x": b["x"] * 2})),
       "p": losses.with_frozen(losses.loss_term(pull), "good")},
      weights={"f": 0.5, "r": 1.0, "p": 0.1})
  frozen = {"good": {"w": np.zeros(3, np.float32)}}

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(params, state):
    (value, state), grads = jax.value_and_grad(
        lambda p: (lambda v, a, s: (v, s))(
            *term.apply(state, p, frozen, batch, rng=RNG)), has_aux=True)(
                params)
    return value, state, grads

  state = term.init(PARAMS)
  for _ in range(3):
    value, state, grads = step(PARAMS, state)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(grads["w"]))


def test_precompute_shares_one_computation_between_terms():
  calls = []

  def features(params, frozen, batch, *, rng):
    del frozen, rng
    calls.append(1)
    return {**batch, "pred": batch["x"] @ params["w"]}

  def from_pred(params, frozen, batch, *, rng):
    del params, frozen, rng
    return (batch["pred"] - batch["y"]) ** 2, {}

  def abs_pred(params, frozen, batch, *, rng):
    del params, frozen, rng
    return jnp.abs(batch["pred"]), {}

  term = losses.precompute(
      losses.weighted_sum({"sq": losses.loss_term(from_pred),
                           "abs": losses.loss_term(abs_pred)},
                          weights={"sq": 2.0, "abs": 0.5}), features)
  batch = _data()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def value_and_grad(params):
    return jax.value_and_grad(
        lambda p: _apply(term, batch, params=p)[0])(params)

  value, grads = value_and_grad(PARAMS)
  assert len(calls) == 1  # traced once, computed once for both terms
  x, y, w = batch["x"], batch["y"], PARAMS["w"]
  pred = x @ w
  np.testing.assert_allclose(
      value, 2.0 * np.mean((pred - y) ** 2) + 0.5 * np.mean(np.abs(pred)),
      rtol=1e-5)
  expected = (2.0 * 2 / len(y) * x.T @ (pred - y)
              + 0.5 / len(y) * x.T @ np.sign(pred))
  np.testing.assert_allclose(grads["w"], expected, rtol=1e-4)

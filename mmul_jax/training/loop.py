"""The step and the step loop shared by training and unlearning."""

from __future__ import annotations

import time
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from mmul_jax import checkpoint
from mmul_jax import errors
from mmul_jax import losses
from mmul_jax.data.core import pipeline
from mmul_jax.training import sharding
from mmul_jax.training import state as state_lib


NonFiniteLossError = errors.NonFiniteLossError


def step_body(loss: losses.LossTerm, tx: optax.GradientTransformation):
  """`body(state, batch, rng, *frozen) -> (state, metrics)`, unjitted: one
  optimiser step on `loss`, drawing `fold_in(rng, state.step)`. `make_step`
  jits it for one model, `vmapped.make_step` vmaps it over K."""

  def body(state: state_lib.TrainState, batch, rng, *frozen):
    step_rng = jax.random.fold_in(rng, state.step)

    def objective(params):
      value, aux, loss_state = loss.apply(
          state.loss_state, params, frozen[0] if frozen else None, batch,
          rng=step_rng)
      return value, (aux, loss_state)

    (value, (aux, loss_state)), grads = jax.value_and_grad(
        objective, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x))
                                  for x in jax.tree.leaves(params)]))
    metrics = {"loss": value, "grad_norm": optax.tree.norm(grads),
               "params_finite": finite, **aux}
    return state.replace(step=state.step + 1, params=params,
                         opt_state=opt_state, loss_state=loss_state), metrics

  return body


def make_step(loss: losses.LossTerm, tx: optax.GradientTransformation,
              rng: jax.Array, mesh, *, with_frozen: bool = False,
              state_sharding=None, frozen_sharding=None):
  """`step(state, batch[, frozen]) -> (state, metrics)`, jitted once.

  `loss` is a `LossTerm`; its state travels in `state.loss_state`. The rng
  of a step is `fold_in(rng, state.step)`, so a resumed run draws the same
  randomness as an uninterrupted one. The state is donated; batches are
  split over the mesh's data axis and everything else is replicated.
  """
  body = step_body(loss, tx)

  def step(state: state_lib.TrainState, batch, *frozen):
    return body(state, batch, rng, *frozen)

  rep, data = sharding.replicated(mesh), sharding.data_sharded(mesh)
  state_sharding = rep if state_sharding is None else state_sharding
  in_shardings = (state_sharding, data) + (
      (rep if frozen_sharding is None else frozen_sharding,)
      if with_frozen else ())
  return jax.jit(step, in_shardings=in_shardings,
                 out_shardings=(state_sharding, rep), donate_argnums=0)


def _value(x):
  """A logged metric: a float, or a list of K floats from K vmapped
  models."""
  x = np.asarray(x)
  return float(x) if x.ndim == 0 else x.astype(np.float64).tolist()


def _check_finite(metrics: dict, step: int) -> dict:
  values = {k: _value(v) for k, v in metrics.items()}
  if not (np.all(np.isfinite(values["loss"]))
          and np.all(np.isfinite(values["grad_norm"]))
          and np.all(values["params_finite"])):
    raise NonFiniteLossError(
        f"loss, gradient or parameters became non-finite at step {step} "
        f"(loss={values['loss']}, grad_norm={values['grad_norm']})")
  return values


def _stopped(error: BaseException, step: int, checkpointer):
  """The error to raise when the loop stops early, after the save in flight
  finished (or failed and was cleaned up), naming the step really kept."""
  kept, save_error = checkpointer.settle() if checkpointer else (None, None)
  if save_error is not None and not isinstance(
      error, checkpoint.CheckpointSaveError):
    return checkpointer.save_error(save_error, kept)
  if isinstance(error, NonFiniteLossError):
    kept_text = (f"the last complete checkpoint (step {kept}) is kept"
                 if kept is not None else "no checkpoint was written")
    return NonFiniteLossError(
        f"{error}; {kept_text}. Lower the learning rate or the loss weights "
        "and run again.")
  if isinstance(error, KeyboardInterrupt):
    resume_at = f"step {kept}" if kept is not None else "the start"
    return errors.Interrupted(
        f"interrupted at step {step}; rerun the same command to resume from "
        f"{resume_at}")
  return error


def resume(ckpt, abstract_state, streams: dict[str, Any]):
  """`(state or None, iterators, latest step or None)` for a run directory.

  The iterators over `streams` (grain `MapDataset`s, by name) start at the
  positions saved with the latest checkpoint, or at its step when it holds
  none for this process count; at 0 without a checkpoint. `abstract_state`
  is called only when there is something to restore.
  """
  iterators = {n: pipeline.iterate(s, 0) for n, s in streams.items()}
  latest = ckpt.latest_step()
  if latest is None:
    return None, iterators, None
  state = ckpt.restore(abstract_state())
  step = state_lib.step_of(state)
  if not ckpt.restore_data(latest, iterators):
    iterators = {n: pipeline.iterate(s, step) for n, s in streams.items()}
  for name, it in iterators.items():
    if pipeline.position(it) != step:
      raise errors.CheckpointError(
          f"checkpoint step {latest} in {ckpt.directory} has input stream "
          f"{name!r} at batch {pipeline.position(it)}, not {step}; delete "
          "that step directory to resume from an earlier one")
  return state, iterators, latest


def run_steps(step_fn, state, batches: Iterator[Any], *, mesh,
              num_steps: int, checkpointer=None, checkpoint_every: int = 0,
              log_every: int = 50, desc: str = "steps", frozen: tuple = (),
              data: dict | None = None, stop_on_nonfinite: bool = True,
              events=None, learning_rate=None, monitor=None
              ) -> tuple[Any, list[dict], float]:
  """Runs `step_fn` from `state.step` to `num_steps`.

  Checks the loss for NaN/inf every `log_every` steps and before every save,
  so a bad state is never written. Without `stop_on_nonfinite` (tuning
  trials under vmap, where one diverging trial must not stop the others,
  whose lanes it cannot touch) non-finite values are only logged. Each checkpoint also saves the positions
  of the iterators `data` (those `batches` reads). Returns `(state, logged
  metrics, wall seconds of the loop)`, the time including input and
  compilation.

  `events` (an `events.EventLog`) receives each logged step's metrics with
  the learning rate (`learning_rate(step)`: a number, or one per vmapped
  model) and the mean wall seconds per step since the previous log (the
  first interval includes compilation). `monitor(step, state)` runs after
  every step; it returns True to stop early (`unlearn.monitor`).
  """
  start = state_lib.step_of(state)
  history: list[dict] = []
  done = start
  t0 = time.perf_counter()
  last = (start, t0)
  try:
    with tqdm(total=num_steps, initial=start, desc=desc, unit="step",
              dynamic_ncols=True, mininterval=1.0) as bar:
      for step in range(start, num_steps):
        batch = sharding.shard_batch(next(batches), mesh)
        state, metrics = step_fn(state, batch, *frozen)
        done = step + 1
        # A monitor that stops the run early keeps its step resumable.
        stop = monitor is not None and monitor(done, state)
        save = checkpointer is not None and (
            stop or done == num_steps or (checkpoint_every and
                                          done % checkpoint_every == 0))
        if save or stop or done % log_every == 0 or done == num_steps:
          values = (_check_finite(metrics, done) if stop_on_nonfinite
                    else {k: _value(v) for k, v in metrics.items()})
          history.append({"step": done, **values})
          bar.set_postfix(loss=f"{np.mean(values['loss']):.4f}")
          if events is not None:
            now = time.perf_counter()
            extra = {"step_seconds": (now - last[1]) / (done - last[0])}
            if learning_rate is not None:
              extra["learning_rate"] = learning_rate(done - 1)
            events.write(done, {**values, **extra})
            last = (done, now)
        if save:
          checkpointer.save(done, state, data=data)
        bar.update(1)
        if stop:
          break
  except BaseException as e:  # Ctrl-C included: let the save finish first
    stopped = _stopped(e, done, checkpointer)
    if stopped is e:
      raise
    raise stopped from None
  jax.block_until_ready(state)
  return state, history, time.perf_counter() - t0

"""The state a training or unlearning step carries from step to step."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax


@flax.struct.dataclass
class TrainState:
  step: jax.Array  # int32 scalar
  params: Any
  opt_state: optax.OptState
  loss_state: Any = ()  # the loss term's state (counts, injected weights)


def create(params, tx: optax.GradientTransformation,
           loss_state: Any = ()) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state=tx.init(params), loss_state=loss_state)


def step_of(state: TrainState) -> int:
  """The step a state is at; K vmapped models (a `(K,)` step) move
  together, so it is the first one's."""
  return int(np.asarray(state.step).ravel()[0])

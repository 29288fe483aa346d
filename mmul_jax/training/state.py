"""The state a training or unlearning step carries from step to step."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
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

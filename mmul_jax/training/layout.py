"""How a phase lays out its models: one model (`Single`, data parallel or
FSDP over the mesh) or K stacked along a leading axis and run under
`jax.vmap` (`Stacked`: shadow models, tuning trials). A phase asks its
layout, so the phase itself is written once for both.

One model is not run as K = 1 stacked lanes: its state can be sharded
by parameter (FSDP), a stacked one only by model, and the plain program is
the one every result so far was computed with.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import optax

from mmul_jax import losses
from mmul_jax.training import loop
from mmul_jax.training import state as state_lib
from mmul_jax.training import vmapped


class Single:
  """One model; `state_sharding(tree)` lays a state or frozen tree out;
  `rng` is its base key (step t draws `fold_in(rng, t)`)."""

  stacked = False

  def __init__(self, mesh, state_sharding: Callable[[Any], Any],
               rng: jax.Array):
    self.mesh = mesh
    self.sharding = state_sharding
    self.rng = rng

  def stack(self, trees: Sequence[Any]):
    (tree,) = trees
    return tree

  def unstack(self, tree, index: int):
    del index  # the one model
    return tree

  def create_state(self, params, tx: optax.GradientTransformation):
    """A fresh training state of `params`."""
    return state_lib.create(params, tx)

  def make_step(self, loss: losses.LossTerm, tx: optax.GradientTransformation,
                state, *, frozen=None, shared_batch=True):
    """`loop.make_step` laid out for `state` (and `frozen`)."""
    del shared_batch  # one model reads the one stream
    extra = {}
    if frozen is not None:
      extra = dict(with_frozen=True, frozen_sharding=self.sharding(frozen))
    return loop.make_step(loss, tx, self.rng, self.mesh,
                          state_sharding=self.sharding(state), **extra)


class Stacked:
  """K models stacked along axis 0, the model axis split over the mesh;
  `rngs` holds their K base keys."""

  stacked = True

  def __init__(self, mesh, rngs: jax.Array):
    self.mesh = mesh
    self.rng = rngs

  def sharding(self, tree):
    return vmapped.model_sharding(tree, self.mesh)

  def stack(self, trees: Sequence[Any]):
    return vmapped.stack(trees)

  def unstack(self, tree, index: int):
    return vmapped.unstack(tree, index)

  def create_state(self, params, tx: optax.GradientTransformation):
    """The K fresh states of stacked `params`, in one vmapped program."""
    return jax.jit(jax.vmap(lambda p: state_lib.create(p, tx)))(params)

  def make_step(self, loss: losses.LossTerm, tx: optax.GradientTransformation,
                state, *, frozen=None, shared_batch=False):
    """`vmapped.make_step`; with `shared_batch` every model reads the same
    plain batch."""
    del state  # every stacked tree has the same layout
    return vmapped.make_step(loss, tx, self.rng, self.mesh,
                             with_frozen=frozen is not None,
                             shared_batch=shared_batch)

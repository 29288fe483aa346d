"""K models in one compiled program: the step of `loop.step_body` under
`jax.vmap` over a leading model axis.

Every array of a stacked state, batch or frozen tree has the K models on
axis 0. On a mesh the model axis is split over the data axis (each device
trains K / devices whole models), so a stacked batch is laid out by the
same `sharding.shard_batch` as a plain one, and with several processes
each process builds the batches of its own models (`local_models`).
"""

from __future__ import annotations

from typing import Any, Sequence

import grain
import jax
import numpy as np
import optax

from mmul_jax import losses
from mmul_jax.training import loop
from mmul_jax.training import sharding


def stack(trees: Sequence[Any]):
  """One tree with a leading axis of `len(trees)` (host numpy leaves stay
  numpy, device arrays stay on device)."""
  if not trees:
    raise ValueError("nothing to stack")
  structure = jax.tree.structure(trees[0])
  for t in trees[1:]:
    if jax.tree.structure(t) != structure:
      raise ValueError("the trees to stack differ in structure: "
                       f"{structure} and {jax.tree.structure(t)}")
  stacker = (np.stack if all(isinstance(x, np.ndarray) for t in trees
                             for x in jax.tree.leaves(t)) else jax.numpy.stack)
  return jax.tree.map(lambda *xs: stacker(xs), *trees)


def unstack(tree, index: int):
  """Model `index` of a stacked tree."""
  return jax.tree.map(lambda x: x[index], tree)


def check_num_models(num_models: int, mesh) -> None:
  n = mesh.shape[sharding.DATA_AXIS]
  if num_models < 1 or num_models % n:
    raise ValueError(f"the number of models ({num_models}) must be a "
                     f"positive multiple of the number of devices ({n}): "
                     "each device trains whole models")


def local_models(num_models: int, mesh) -> range:
  """The models this process builds batches for (all with one process)."""
  index, count = sharding.local_rows(mesh, num_models)
  per = num_models // count
  return range(index * per, (index + 1) * per)


def model_sharding(tree, mesh):
  """Shardings of a stacked tree: the model axis split over the mesh."""
  spec = sharding.data_sharded(mesh)
  return jax.tree.map(lambda _: spec, tree)


def make_step(loss: losses.LossTerm, tx: optax.GradientTransformation,
              rngs: jax.Array, mesh, *, with_frozen: bool = False,
              shared_batch: bool = False):
  """`step(states, batches[, frozen]) -> (states, metrics)` for K models.

  `rngs` holds the K models' base keys (model k draws `fold_in(rngs[k],
  step)`, as `loop.make_step` does for one). `loss` and `tx` are the
  functions every model shares; whatever differs between models (a SalUn
  mask, Fisher noise scales, a random teacher, a tuning trial's learning
  rate or loss weights) lives in the stacked optimiser, loss or frozen
  state. With `shared_batch`, every model reads the same plain batch
  (tuning trials on one data order) instead of its own stacked one.
  Metrics come back per model, `(K,)`. Jitted once, states donated.
  """
  body = jax.vmap(loop.step_body(loss, tx),
                  in_axes=(0, None if shared_batch else 0, 0)
                  + ((0,) if with_frozen else ()))

  def step(states, batches, *frozen):
    return body(states, batches, rngs, *frozen)

  spec = sharding.data_sharded(mesh)
  return jax.jit(step, in_shardings=(spec, spec) + ((spec,) if with_frozen
                                                    else ()),
                 out_shardings=(spec, spec), donate_argnums=0)


class _Stacked:
  """Batch k of every stream, stacked: a random-access source over
  `grain.MapDataset`s indexed by step."""

  def __init__(self, streams):
    self._streams = list(streams)

  def __len__(self):
    return min(len(s) for s in self._streams)

  def __getitem__(self, index):
    return stack([s[index] for s in self._streams])


def stacked_stream(streams: Sequence[grain.MapDataset]) -> grain.MapDataset:
  """One `MapDataset` whose step k is the stacked batch k of `streams`
  (one per model): its position checkpoints like a single stream's."""
  return grain.MapDataset.source(_Stacked(streams))

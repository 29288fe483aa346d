"""Data parallelism over a device mesh: batch split on `data`, params replicated.

Steps are plain `jax.jit` functions with these shardings; XLA inserts the
gradient all-reduce. This is the SPMD replacement for `pmap`.
"""

from __future__ import annotations

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def make_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
  n = num_devices or jax.device_count()
  return jax.make_mesh((n,), (DATA_AXIS,),
                       axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def data_sharded(mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(batch_size: int, mesh, what: str) -> None:
  n = mesh.shape[DATA_AXIS]
  if batch_size % n:
    raise ValueError(f"{what} ({batch_size}) must be a multiple of the "
                     f"number of devices ({n})")


def shard_batch(batch, mesh):
  """Host numpy batch -> global arrays split over `data` (each process
  passes its own part)."""
  sharding = data_sharded(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x), batch)

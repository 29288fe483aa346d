"""Data parallelism over a device mesh: batch split on `data`; parameters
replicated, or split on the same axis (FSDP) when they are large.

Steps are plain `jax.jit` functions with these shardings; XLA inserts the
gradient all-reduce (replicated parameters) or the all-gathers and
reduce-scatters (FSDP). This is the SPMD replacement for `pmap`. With
several processes, each process builds only its own rows of a batch
(`local_rows`), and `shard_batch` assembles the global array.
"""

from __future__ import annotations

import jax
import numpy as np
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


def local_rows(mesh, batch_size: int) -> tuple[int, int]:
  """`(index, count)`: this process feeds rows
  `[index * b, (index + 1) * b)` of every global batch, `b = batch_size /
  count`. With one process it is `(0, 1)`."""
  spans = data_sharded(mesh).addressable_devices_indices_map((batch_size,))
  starts = sorted(s[0].indices(batch_size)[0] for s in spans.values())
  stops = sorted(s[0].indices(batch_size)[1] for s in spans.values())
  start, stop = starts[0], stops[-1]
  size = stop - start
  if any(b != a for a, b in zip(stops[:-1], starts[1:])) or batch_size % size:
    raise ValueError("this process's devices do not hold one contiguous "
                     "block of the batch; build the mesh with "
                     "sharding.make_mesh")
  return start // size, batch_size // size


def shard_batch(batch, mesh):
  """Host numpy batch -> global arrays split over `data` (each process
  passes its own rows, see `local_rows`)."""
  sharding = data_sharded(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def fsdp_spec(shape: tuple[int, ...], n: int, min_size: int) -> P:
  """Splits an array of at least `min_size` elements over `n` devices along
  its largest dimension that `n` divides; smaller ones are replicated."""
  if n == 1 or not min_size or int(np.prod(shape)) < min_size:
    return P()
  dims = sorted(range(len(shape)), key=lambda d: -shape[d])
  for d in dims:
    if shape[d] % n == 0:
      return P(*([None] * d + [DATA_AXIS]))
  return P()


def state_sharding(tree, mesh, fsdp_min_size: int = 0):
  """Shardings for a parameter-shaped tree (parameters, optimiser and loss
  state, a frozen model): replicated, or FSDP when `fsdp_min_size > 0`.
  The rule depends on shapes only, so Adam's moments follow their
  parameters."""
  n = mesh.shape[DATA_AXIS]
  return jax.tree.map(
      lambda x: NamedSharding(
          mesh, fsdp_spec(tuple(getattr(x, "shape", ())), n, fsdp_min_size)),
      tree)

"""Cross-device helpers: a no-op without an axis name, so a loss written with
them runs unchanged under jit, vmap, pmap and shard_map."""

from __future__ import annotations

import jax


def gather(x: jax.Array, axis_name: str | None) -> jax.Array:
  """The global batch: per-device batches concatenated along `axis_name`."""
  if axis_name is None:
    return x
  return jax.lax.all_gather(x, axis_name, tiled=True)


def row_offset(local_rows: int, axis_name: str | None) -> jax.Array | int:
  """Index of this device's first row in the global batch."""
  if axis_name is None:
    return 0
  return jax.lax.axis_index(axis_name) * local_rows

"""Multi-process (multi-host) runs: start-up, the main process, ordering.

Every process runs the same program over one global device mesh (SPMD). Each
feeds its own rows of every batch; parameters and optimiser state are global
arrays; Orbax writes checkpoints from all processes together. Files that are
not checkpoints (info, results, evaluation caches) are written by process 0
only, and data preparation runs on process 0 before the others read it.

On one machine, several CPU processes can form a job through a localhost
coordinator; that is how the multi-process path is tested here.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np
from jax.experimental import multihost_utils

from mmul_jax import errors


def initialize(cfg) -> None:
  """`jax.distributed.initialize` as `config.distributed` says (once).

  An empty `coordinator_address` is a single-process run; "auto" lets JAX
  detect the cluster (TPU pods, SLURM, Open MPI); anything else is
  `host:port` of process 0, with `num_processes` and `process_id` given.
  """
  address = cfg.coordinator_address
  if not address or jax.distributed.is_initialized():
    return
  try:
    if address == "auto":
      jax.distributed.initialize()
    else:
      jax.distributed.initialize(address, num_processes=cfg.num_processes,
                                 process_id=cfg.process_id)
  except Exception as e:  # JAX raises RuntimeError/ValueError variants
    first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    raise errors.ConfigError(
        f"could not join the multi-process job at {address!r} "
        f"({type(e).__name__}: {first}); check distributed.* and that every "
        "process was started with the same coordinator address") from e


def is_main() -> bool:
  return jax.process_index() == 0


@contextlib.contextmanager
def main_first(name: str):
  """Process 0 runs the block first (say, writing a dataset), the others
  after it finished (then reading what it wrote). If process 0 fails, the
  others stop with an error instead of waiting for it."""
  if jax.process_count() == 1:
    yield
    return
  if not is_main():
    if not _broadcast_ok(True):
      raise errors.UserError(f"process 0 failed during {name!r}; its "
                             "output says why")
    yield
    return
  try:
    yield
  except BaseException:
    _broadcast_ok(False)
    raise
  _broadcast_ok(True)


def _broadcast_ok(ok: bool) -> bool:
  """Process 0's `ok` on every process (also a barrier)."""
  return bool(multihost_utils.broadcast_one_to_all(np.int32(ok)))


def local_copy(tree):
  """Replicated global arrays -> arrays on one local device, for work every
  process does alone (evaluation). Sharded arrays are gathered first."""

  def one(x):
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
      return x
    if not x.is_fully_replicated:
      x = multihost_utils.process_allgather(x, tiled=True)
      return jax.device_put(x, jax.local_devices()[0])
    return x.addressable_data(0)

  return jax.tree.map(one, tree)

"""What the task kinds' loss terms share: running the model being unlearned
and the frozen one, and drawing unrelated partners for modality decoupling.

The model being unlearned runs in training mode (dropout on) and the frozen
model in inference mode under `stop_gradient`, as in the reference. Terms
that compare against other batch items take `axis_name`, so they also give
global-batch values under `shard_map` or `pmap`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.losses import _collective

# Where modality decoupling takes its unrelated partners from.
NEGATIVE_SOURCES = ("df", "dr")
# The frozen models reach a term as a dict by name: the original θ₀ always,
# "bad" (Bad Teaching's random teacher) and "base" (under LoRA) besides.
ORIGINAL = "original"


def student(model, params, method, *args, rng):
  """`model.<method>(*args)` in training mode (the model being unlearned)."""
  return model.apply(params, *args, train=True, method=method,
                     rngs={"dropout": rng})


def frozen(model, params, method, *args):
  """`model.<method>(*args)` in inference mode, without gradients."""
  return jax.lax.stop_gradient(
      model.apply(params, *args, train=False, method=method))


def check_negative_source(negative_source: str) -> None:
  if negative_source not in NEGATIVE_SOURCES:
    raise ValueError(f"negative_source must be one of {NEGATIVE_SOURCES}, "
                     f"got {negative_source!r}")


def _local_rows(x_all: jax.Array, rows: int, axis_name: str | None):
  start = _collective.row_offset(rows, axis_name)
  return jax.lax.dynamic_slice_in_dim(x_all, start, rows)


def unrelated_partners(rng, df_ids, df_values, dr_values, *,
                       negative_source: str, axis_name: str | None):
  """For each local Df row, the value of an unrelated item, and aux.

  With "df": `df_values` permuted by a derangement keyed on `df_ids` over
  the global batch, so no unit is paired with one of its own texts (the
  reference's `randperm` could). With "dr": a random choice among
  `dr_values()` (a callable, so the Dr values are computed only here).
  """
  b = df_ids.shape[0]
  aux = {}
  if negative_source == "df":
    ids_all = _collective.gather(df_ids, axis_name)
    perm, valid = losses.derangement(rng, ids_all)
    pool = _collective.gather(jnp.asarray(df_values), axis_name)[perm]
    aux["derangement_valid"] = valid.astype(jnp.float32)
  else:
    pool = _collective.gather(jnp.asarray(dr_values()), axis_name)
    n_df = b if axis_name is None else b * jax.lax.axis_size(axis_name)
    if pool.shape[0] < n_df:
      raise ValueError("negative_source='dr' needs a Dr batch at least as "
                       "large as the Df batch")
    pool = pool[jax.random.permutation(rng, pool.shape[0])[:n_df]]
  return _local_rows(pool, b, axis_name), aux

"""Shadow deletion sets (issue 46; Hayes et al. 2024, "Inexact unlearning
needs more careful evaluations"): with `shadow.deletion_sets =
"per_model"`, each of the K shadow pairs forgets its own Df_k, drawn from
a common candidate pool, so U-LiRA tests each example over deletion sets
and seeds, not over seeds alone with one fixed Df.

The pool is the run's Df plus as many Dr units (seeded); each Df_k is a
seeded half of it, so each pool example is forgotten by about half the
shadow pairs. The run's experiment is set up with the pool as its
deletion set (`pool_experiment`): its evaluated "df" set is the pool and
its Dr sample lies outside it, so every model's retained sample is
retained by all of them; model k's retrained twin trains on D minus Df_k,
its unlearned models forget Df_k (`lanes`), and the audit reads pool
example i of model k only where Df_k holds it (`mask`)."""

from __future__ import annotations

import dataclasses

import numpy as np

from mmul_jax import errors
from mmul_jax.data.core import deletion as deletion_lib

MODES = ("shared", "per_model")
_SALT = 4646  # the pool's and the lanes' draws differ from every other


def pool_experiment(exp):
  """`exp` with the candidate pool as its deletion set (source "pool")."""
  df = exp.deletion
  m = len(df.forget_ids)
  retain = df.retain_ids
  if m < 1 or len(retain) < m + 1:
    raise errors.ConfigError(
        f"shadow.deletion_sets = \"per_model\" draws a pool of Df and as "
        f"many Dr units; Df has {m} units and Dr {len(retain)}: lower "
        "deletion.ratio")
  rng = np.random.default_rng([int(df.seed) % 2**32, _SALT])
  extra = rng.choice(retain, m, replace=False)
  pool = dataclasses.replace(
      df, forget_ids=np.sort(np.concatenate([df.forget_ids, extra])),
      ratio=100.0 * 2 * m / len(df.all_ids), source="pool", mapping=None)
  pool.check()
  return dataclasses.replace(exp, deletion=pool)


def lanes(pool: deletion_lib.DeletionSet, seeds) -> list:
  """Df_k per shadow seed: a seeded half of the pool, all of D left."""
  m = len(pool.forget_ids) // 2
  out = []
  for s in seeds:
    rng = np.random.default_rng([int(s) % 2**32, _SALT, 1])
    lane = dataclasses.replace(
        pool, forget_ids=np.sort(rng.choice(pool.forget_ids, m,
                                            replace=False)),
        ratio=100.0 * m / len(pool.all_ids), source="lane")
    lane.check()
    out.append(lane)
  return out


def mask(pool: deletion_lib.DeletionSet, lane_sets, pool_order) -> np.ndarray:
  """`(K, N)` bool: pool example i (units in `pool_order`, the evaluated
  set's order) is in lane k's Df."""
  order = np.asarray(pool_order)
  return np.stack([np.isin(order, d.forget_ids) for d in lane_sets])

"""The relearning attack (issue 46; Hu et al. 2024, "Jogging the memory
of unlearned LLMs"; Łucki et al. 2024): a few fine-tuning steps on a
handful of examples, the deleted ones or only loosely related ones, can
bring back what unlearning hid, while a model retrained without Df has
nothing to bring back.

Each attack seed draws its own units (`attack_units`) and fine-tunes its
own copy of the model with the task's training loss; the copies of one
model run as K stacked lanes of one vmapped program (`fine_tune`).
"""

from __future__ import annotations

from typing import Iterable

import jax
import numpy as np
import optax

from mmul_jax import losses
from mmul_jax.training import layout as layout_lib
from mmul_jax.training import sharding
from mmul_jax.training import vmapped

# "forget": Df units; "retain": Dr units, unrelated to Df, which every
# model trained on; "same_class": Dr units sharing a class with the seed's
# Df units (loosely related; labelled data only).
DATA = ("forget", "retain", "same_class")


def attack_units(data: str, forget_ids, retain_ids, num_units: int,
                 seed: int, labels: dict | None = None) -> np.ndarray:
  """The (sorted) units attack seed `seed` fine-tunes on: `num_units`
  drawn without replacement from the pool `data` names. `labels` (unit id
  -> class) is needed for "same_class", whose pool is the Dr units of the
  classes of `num_units` Df units drawn first. Raises ValueError when the
  pool is smaller than `num_units`."""
  rng = np.random.default_rng([int(seed), 46])
  forget_ids = np.asarray(forget_ids)
  retain_ids = np.asarray(retain_ids)
  if data == "forget":
    pool = forget_ids
  elif data == "retain":
    pool = retain_ids
  elif data == "same_class":
    if labels is None:
      raise ValueError("same_class needs each unit's class")
    anchors = rng.choice(forget_ids, min(num_units, len(forget_ids)),
                         replace=False)
    classes = {labels[int(i)] for i in anchors}
    pool = np.asarray([i for i in retain_ids if labels[int(i)] in classes])
  else:
    raise ValueError(f"unknown attack data {data!r}; one of {DATA}")
  if len(pool) < num_units:
    raise ValueError(f"{data}: {len(pool)} units to draw {num_units} from")
  return np.sort(rng.choice(pool, num_units, replace=False))


def fine_tune(params, *, term: losses.LossTerm,
              tx: optax.GradientTransformation, rngs: jax.Array, mesh,
              batches, checkpoints: Iterable[int]) -> dict[int, object]:
  """`{t: the K models after t steps}` for each t of `checkpoints`: K
  copies of `params` (one per base key in `rngs`) fine-tuned with `term`
  and `tx`, step t reading `batches[t]` (a stacked stream: batch t of each
  copy's own stream). Kept trees are host copies."""
  checkpoints = sorted(set(int(t) for t in checkpoints))
  k = rngs.shape[0]
  layout = layout_lib.Stacked(mesh, rngs)
  stacked = vmapped.stack([params] * k)
  state = layout.create_state(stacked, tx)
  step = layout.make_step(term, tx, state)
  out = {}
  for t in range(1, checkpoints[-1] + 1):
    state, _ = step(state, sharding.shard_batch(batches[t - 1], mesh))
    if t in checkpoints:
      out[t] = jax.device_get(state.params)
  return out

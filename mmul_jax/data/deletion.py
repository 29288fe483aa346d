"""Standardised deletion sets: seeded, nested, by deletion unit.

The deletion unit is an image together with all its captions (MultiDelete
§1.2): deleting any caption of an image deletes the image. For a dataset and
a seed, one random permutation of the unit ids is drawn; ratio r% deletes its
first round(r/100 * N) ids, so smaller deletion sets are prefixes of larger
ones (the MultiDelete and MU-Bench convention). Each set is written as a
JSON manifest holding the ids and the SHA-256 of the id list, which is
checked on load and names the cached retrained model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Sequence

import numpy as np

from mmul_jax import errors
from mmul_jax import io_utils

STANDARD_RATIOS = tuple(range(1, 11))  # percent


def check_ratio(ratio: float) -> float:
  ratio = float(ratio)
  if not 0.0 < ratio < 100.0:
    raise errors.ConfigError(
        f"deletion ratio must be a percentage in (0, 100), got {ratio}")
  return ratio


def ids_hash(ids: Sequence[int]) -> str:
  """SHA-256 of the comma-separated decimal ids, in the given order."""
  text = ",".join(str(int(i)) for i in ids)
  return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class DeletionSet:
  """Df (in draw order) and the total unit ids it was drawn from."""

  dataset: str
  unit: str
  seed: int
  ratio: float
  forget_ids: np.ndarray
  all_ids: np.ndarray  # sorted

  @property
  def retain_ids(self) -> np.ndarray:
    return np.setdiff1d(self.all_ids, self.forget_ids)

  @property
  def sha256(self) -> str:
    return ids_hash(self.forget_ids)

  @property
  def tag(self) -> str:
    """Short name for directories: ratio, seed and hash prefix."""
    return f"r{self.ratio:g}_seed{self.seed}_{self.sha256[:10]}"

  def check(self) -> None:
    """Df ⊂ D, Df ∩ Dr = ∅, Df ∪ Dr = D, no duplicates."""
    forget = np.asarray(self.forget_ids)
    if len(np.unique(forget)) != len(forget):
      raise errors.DataError("deletion set has duplicate ids")
    if not np.isin(forget, self.all_ids).all():
      bad = forget[~np.isin(forget, self.all_ids)][:5].tolist()
      raise errors.DataError(f"deletion ids not in the dataset: {bad}")
    retain = self.retain_ids
    if np.intersect1d(forget, retain).size:
      raise errors.DataError("Df and Dr overlap")
    if len(forget) + len(retain) != len(self.all_ids):
      raise errors.DataError("Df and Dr do not cover the dataset")

  def to_json(self) -> dict:
    return {"dataset": self.dataset, "unit": self.unit, "seed": self.seed,
            "ratio": self.ratio, "num_units": len(self.all_ids),
            "num_forget": len(self.forget_ids),
            "forget_ids": [int(i) for i in self.forget_ids],
            "all_ids_sha256": ids_hash(self.all_ids),
            "sha256": self.sha256}


def draw(all_ids: Sequence[int], *, ratio: float, seed: int, dataset: str,
         unit: str = "image") -> DeletionSet:
  """The ratio% prefix of the seeded permutation of `all_ids`."""
  ratio = check_ratio(ratio)
  all_ids = np.sort(np.asarray(all_ids, np.int64))
  if len(np.unique(all_ids)) != len(all_ids):
    raise errors.DataError("unit ids must be unique")
  n = int(round(ratio / 100.0 * len(all_ids)))
  if n < 1 or n >= len(all_ids):
    raise errors.DataError(f"ratio {ratio}% of {len(all_ids)} units gives {n} "
                     "deleted units; choose a ratio that deletes at least one "
                     "unit and keeps at least one")
  order = np.random.default_rng(seed).permutation(all_ids)
  result = DeletionSet(dataset, unit, int(seed), ratio, order[:n], all_ids)
  result.check()
  return result


def manifest_path(root: str, dataset: str, seed: int, ratio: float) -> str:
  return os.path.join(root, dataset, f"seed{seed}", f"ratio{ratio:g}.json")


def save(ds: DeletionSet, path: str) -> None:
  io_utils.atomic_write_json(path, ds.to_json())


def load(path: str, all_ids: Sequence[int] | None = None) -> DeletionSet:
  """Reads a manifest, verifying its hash (and its dataset, if given)."""
  try:
    with open(path) as f:
      m = json.load(f)
    forget = np.asarray(m["forget_ids"], np.int64)
    expected = m["sha256"]
  except (OSError, ValueError, KeyError) as e:
    raise errors.DataError(f"unreadable deletion manifest {path}: {e}") from e
  if ids_hash(forget) != expected:
    raise errors.DataError(f"deletion manifest {path} is corrupt: the id list does "
                     "not match its sha256; delete it to redraw")
  if all_ids is None:
    raise errors.DataError("the ids of the dataset are needed to load a manifest")
  all_ids = np.sort(np.asarray(all_ids, np.int64))
  if ids_hash(all_ids) != m["all_ids_sha256"]:
    raise errors.DataError(f"deletion manifest {path} was drawn from another "
                     "dataset (unit ids differ)")
  result = DeletionSet(m["dataset"], m["unit"], int(m["seed"]),
                       float(m["ratio"]), forget, all_ids)
  result.check()
  return result


def standard_sets(root: str, all_ids: Sequence[int], *, dataset: str,
                  seed: int, ratios: Sequence[float] = STANDARD_RATIOS
                  ) -> dict[float, DeletionSet]:
  """Loads, or draws and saves, the nested sets for `ratios` (percent)."""
  out = {}
  for r in ratios:
    path = manifest_path(root, dataset, seed, float(r))
    if os.path.exists(path):
      out[float(r)] = load(path, all_ids)
    else:
      out[float(r)] = draw(all_ids, ratio=r, seed=seed, dataset=dataset)
      save(out[float(r)], path)
  return out

"""Standardised deletion sets: seeded, nested, by deletion unit.

The deletion unit is an image together with all its captions (MultiDelete
§1.2): deleting any caption of an image deletes the image. For a dataset and
a seed, one random permutation of the unit ids is drawn; ratio r% deletes its
first round(r/100 * N) ids, so smaller deletion sets are prefixes of larger
ones (the MultiDelete and MU-Bench convention). Each set is written as a
JSON manifest holding the ids and the SHA-256 of the id list, which is
checked on load and names the cached retrained model.

Two other kinds of set:

* **class-skewed** (`draw(..., labels=, skew_class=)`): Df drawn from the
  units of one class only, at the same size as a uniform set; the
  dataset-bias analysis compares the two.
* **MU-Bench index files** (`read_mubench_indices`, `read_mubench_mask`):
  the benchmark's fixed deletion sets, one 0-based train-row index per line
  for a 10% deletion; ratio r% takes the first floor(r/10 * lines) lines, so
  the sets are nested. UCF101 ships 0/1 masks per clip instead.
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


def unit_count(ratio: float, num_units: int) -> int:
  """How many of `num_units` units ratio% deletes."""
  return int(round(ratio / 100.0 * num_units))


def ids_hash(ids: Sequence[int]) -> str:
  """SHA-256 of the comma-separated decimal ids, in the given order."""
  text = ",".join(str(int(i)) for i in ids)
  return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class DeletionSet:
  """Df (in draw order) and the total unit ids it was drawn from."""
  # source: "uniform", "class<k>", "mubench" or "ids" (a user's list).

  dataset: str
  unit: str
  seed: int
  ratio: float
  forget_ids: np.ndarray
  all_ids: np.ndarray  # sorted
  # How Df was chosen: "uniform", "class<k>" (skewed) or "mubench".
  source: str = "uniform"
  # A MU-Bench file of example rows mapped to units: the counts (see
  # `units_of_example_rows`), kept in the manifest.
  mapping: dict | None = None
  # A later request of a sequence (`unlearn.sequential`): the hashes of
  # the requests deleted before it, whose units `all_ids` no longer holds.
  before: tuple[str, ...] = ()

  @property
  def retain_ids(self) -> np.ndarray:
    return np.setdiff1d(self.all_ids, self.forget_ids)

  @property
  def sha256(self) -> str:
    return ids_hash(self.forget_ids)

  @property
  def tag(self) -> str:
    """Short name for directories: ratio, seed and hash prefix."""
    kind = "" if self.source == "uniform" else f"{self.source}_"
    return f"r{self.ratio:g}_{kind}seed{self.seed}_{self.sha256[:10]}"

  def check(self) -> None:
    """Df ⊂ D, Df ∩ Dr = ∅, Df ∪ Dr = D, no duplicates."""
    forget = np.asarray(self.forget_ids)
    values, counts = np.unique(forget, return_counts=True)
    if (counts > 1).any():
      dup = values[counts > 1]
      raise errors.DataError(
          f"deletion set lists id {int(dup[0])} more than once "
          f"({dup.size} duplicated id(s): {dup[:5].tolist()})")
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
            "source": self.source, "sha256": self.sha256,
            **({"mubench_mapping": self.mapping} if self.mapping else {})}


def draw(all_ids: Sequence[int], *, ratio: float, seed: int, dataset: str,
         unit: str = "image", labels: Sequence[int] | None = None,
         skew_class: int | None = None) -> DeletionSet:
  """The ratio% prefix of the seeded permutation of `all_ids`.

  With `labels` (one per id, in the order of `all_ids`) and `skew_class`,
  the permutation is of that class's ids only: a class-skewed Df of the
  same size as the uniform one.
  """
  ratio = check_ratio(ratio)
  all_ids = np.asarray(all_ids, np.int64)
  if len(np.unique(all_ids)) != len(all_ids):
    raise errors.DataError("unit ids must be unique")
  n = unit_count(ratio, len(all_ids))
  if n < 1 or n >= len(all_ids):
    raise errors.DataError(f"ratio {ratio}% of {len(all_ids)} units gives {n} "
                     "deleted units; choose a ratio that deletes at least one "
                     "unit and keeps at least one")
  pool, source = np.sort(all_ids), "uniform"
  if skew_class is not None:
    labels = np.asarray(labels)
    pool, source = np.sort(all_ids[labels == skew_class]), f"class{skew_class}"
    if len(pool) < n:
      raise errors.ConfigError(
          f"class {skew_class} has {len(pool)} units, fewer than the {n} "
          f"a {ratio:g}% deletion needs; lower deletion.ratio")
  order = np.random.default_rng(seed).permutation(pool)
  result = DeletionSet(dataset, unit, int(seed), ratio, order[:n],
                       np.sort(all_ids), source)
  result.check()
  return result


def from_rows(rows: np.ndarray, row_ids: Sequence[int], *, ratio: float,
              dataset: str, unit: str = "image",
              mapping: dict | None = None) -> DeletionSet:
  """A Df given as row indices into a split whose row i has id
  `row_ids[i]` (an imported MU-Bench set)."""
  row_ids = np.asarray(row_ids, np.int64)
  result = DeletionSet(dataset, unit, -1, float(ratio),
                       row_ids[np.asarray(rows, np.int64)],
                       np.sort(row_ids), "mubench", mapping)
  result.check()
  return result


def _numbered_lines(path: str, what: str, *, empty: str,
                    not_text: str = "") -> list[tuple[int, str]]:
  """`(line number, text)` of each non-empty line of the deletion file
  `what` at `path`; an unreadable, non-text or empty file is one
  `DataError` (`empty` says what it must hold, `not_text` ends that
  message)."""
  try:
    with open(path, encoding="utf-8") as f:
      lines = [(i + 1, ln.strip()) for i, ln in enumerate(f) if ln.strip()]
  except OSError as e:
    raise errors.DataError(f"cannot read {what} {path}: "
                           f"{e.strerror}") from None
  except UnicodeDecodeError as e:
    raise errors.DataError(f"{what} {path} is not text ({e}){not_text}"
                           ) from None
  if not lines:
    raise errors.DataError(f"{what} {path} is empty; {empty}")
  return lines


def read_ids_file(path: str, keys: Sequence[str]) -> np.ndarray:
  """The positions in `keys` (a split's unit ids as text, in record order)
  of the ids a file lists, one per line; an id the split lacks or listed
  twice is a `DataError` naming its line."""
  lines = _numbered_lines(path, "deletion.ids_file",
                          empty="list the ids to forget, one per line")
  where = {k: i for i, k in enumerate(keys)}
  seen, out = {}, []
  for number, key in lines:
    if key not in where:
      raise errors.DataError(
          f"{path}, line {number}: id {key[:60]!r} is not in the train "
          f"split ({len(keys)} units); ids are data.files.id_column's "
          "values (the row number without one)")
    if key in seen:
      raise errors.DataError(f"{path}, line {number}: id {key[:60]!r} is "
                             f"listed again (first on line {seen[key]})")
    seen[key] = number
    out.append(where[key])
  return np.asarray(out, np.int64)


def _prefix(n_lines: int, ratio: float) -> int:
  ratio = float(ratio)
  if not 0.0 < ratio <= 10.0:
    raise errors.ConfigError(
        f"MU-Bench deletion files hold 10% deletions; ratio {ratio:g} must "
        "be in (0, 10]")
  return int(np.floor(ratio / 10.0 * n_lines + 1e-9))


def read_mubench_indices(path: str, *, num_rows: int,
                         ratio: float) -> np.ndarray:
  """The train rows of a ratio% deletion from a MU-Bench index file.

  The file lists the 10% set, one 0-based row index per line; ratio r takes
  the first floor(r/10 * lines). Every index is checked against the split
  (`num_rows` rows), not only the prefix, so a file for another dataset is
  refused whatever the ratio.
  """
  lines = _numbered_lines(
      path, "MU-Bench index file", not_text="; is it the index file?",
      empty="it must list the deleted train rows, one per line")
  rows, out_of_range = [], []
  for number, text in lines:
    try:
      row = int(text)
    except ValueError:
      raise errors.DataError(f"{path}, line {number}: {text[:40]!r} is not a "
                             "row index (one integer per line)") from None
    if not 0 <= row < num_rows:
      out_of_range.append((number, text))
    rows.append(row)
  if out_of_range:
    number, text = out_of_range[0]
    raise errors.DataError(
        f"{path}, line {number}: row {text[:40]} is out of range for a "
        f"train split of {num_rows} rows ({len(out_of_range)} such lines); "
        "is this the file for this dataset?")
  rows = np.asarray(rows, np.int64)
  values, counts = np.unique(rows, return_counts=True)
  if (counts > 1).any():
    row = int(values[counts > 1][0])
    number = lines[int(np.flatnonzero(rows == row)[0])][0]  # row i: line i
    raise errors.DataError(f"{path} lists row {row} more than once (first "
                           f"on line {number})")
  n = _prefix(len(rows), ratio)
  if n == 0:
    raise errors.DataError(
        f"a {float(ratio):g}% deletion takes the first {float(ratio):g}/10 "
        f"of {path}'s {len(rows)} rows, which is none; raise "
        "deletion.ratio")
  return rows[:n]


def example_row_owners(rows_per_record: Sequence[Sequence[int]],
                       what: str = "the split") -> np.ndarray:
  """`owner[r]`: the record holding example row r, from each record's
  example rows (NLVR2: the statement rows of an image pair). The rows must
  be 0..n-1, each in exactly one record."""
  sizes = [len(r) for r in rows_per_record]
  rows = np.concatenate([np.asarray(r, np.int64).ravel()
                         for r in rows_per_record] or [np.zeros(0, np.int64)])
  owner = np.repeat(np.arange(len(sizes)), sizes)
  n = len(rows)
  if n == 0 or rows.min() < 0 or rows.max() >= n or len(np.unique(rows)) != n:
    raise errors.DataError(
        f"the example rows of {what} are not 0..{n - 1}, each once; "
        "prepare the dataset again (delete its TFDS directory)")
  out = np.empty(n, np.int64)
  out[rows] = owner
  return out


def units_of_example_rows(rows: np.ndarray,
                          owner: np.ndarray) -> tuple[np.ndarray, dict]:
  """The records (deletion units) of the example rows `rows` of a MU-Bench
  file, in order of first appearance: deleting a unit deletes all its
  examples, so Df covers at least the listed ones. Returns the record
  positions and the counts for the manifest: the split's example rows, the
  rows listed, the units deleted and the examples they hold."""
  first = owner[np.asarray(rows, np.int64)]
  _, where = np.unique(first, return_index=True)
  units = first[np.sort(where)]
  return units, {"example_rows": int(len(owner)),
                 "rows_listed": int(len(rows)), "units": int(len(units)),
                 "examples_deleted": int(np.isin(owner, units).sum())}


def read_mubench_mask(directory: str, *, num_rows: int,
                      ratio: float) -> np.ndarray:
  """The rows of a ratio% deletion from MU-Bench's per-ratio 0/1 masks
  (UCF101: `<ratio>.txt`, named "1.txt" or "2.0.txt")."""
  ratio = float(ratio)
  names = [f"{ratio:g}.txt", f"{ratio:.1f}.txt"]
  path = next((os.path.join(directory, n) for n in names
               if os.path.exists(os.path.join(directory, n))), None)
  if path is None:
    raise errors.DataError(f"no mask for ratio {ratio:g} in {directory} "
                           f"(looked for {' and '.join(names)})")
  mask = np.loadtxt(path, dtype=np.int64, ndmin=1)
  if len(mask) != num_rows or not np.isin(mask, (0, 1)).all():
    raise errors.DataError(f"{path} must hold {num_rows} lines of 0 or 1, "
                           f"got {len(mask)} lines")
  return np.flatnonzero(mask)


def manifest_path(root: str, dataset: str, seed: int, ratio: float,
                  source: str = "uniform") -> str:
  kind = "" if source == "uniform" else f"_{source}"
  return os.path.join(root, dataset, f"seed{seed}",
                      f"ratio{ratio:g}{kind}.json")


def save(ds: DeletionSet, path: str) -> None:
  io_utils.atomic_write_json(path, ds.to_json())


def load(path: str, all_ids: Sequence[int] | None = None) -> DeletionSet:
  """Reads a manifest, verifying its hash (and its dataset, if given)."""
  try:
    with open(path, encoding="utf-8") as f:
      m = json.load(f)
    ids = m["forget_ids"]
    expected, drawn_from = m["sha256"], m["all_ids_sha256"]
    fields = (m["dataset"], m["unit"], m["seed"], float(m["ratio"]))
    if not isinstance(ids, list):
      raise ValueError("forget_ids is not a list of ids")
    # An id or seed of 50.5 would be cut to 50 by int().
    for key, value in [("seed", fields[2])] + [
        (f"forget_ids[{k}]", x) for k, x in enumerate(ids)]:
      if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} is {value!r}, not an integer")
    forget = np.asarray(ids, np.int64)
  except (OSError, ValueError, KeyError, TypeError, OverflowError) as e:
    what = f"no key {e}" if isinstance(e, KeyError) else str(e)
    raise errors.DataError(f"unreadable deletion manifest {path} ({what}); "
                           "delete it to redraw the set") from None
  if ids_hash(forget) != expected:
    raise errors.DataError(f"deletion manifest {path} is corrupt: the id list does "
                     "not match its sha256; delete it to redraw")
  if all_ids is None:
    raise errors.DataError("the ids of the dataset are needed to load a manifest")
  all_ids = np.sort(np.asarray(all_ids, np.int64))
  if ids_hash(all_ids) != drawn_from:
    raise errors.DataError(f"deletion manifest {path} was drawn from another "
                     "dataset (unit ids differ)")
  result = DeletionSet(*fields, forget, all_ids, m.get("source", "uniform"))
  try:
    result.check()
  except errors.DataError as e:
    raise errors.DataError(f"deletion manifest {path}: {e}") from None
  # The counts it states must be those of its ids: a hand-edited manifest
  # would otherwise be reported as the ratio it claims.
  stated = {"num_forget": len(forget), "num_units": len(all_ids)}
  for key, actual in stated.items():
    if key in m and m[key] != actual:
      raise errors.DataError(
          f"deletion manifest {path} says {key} = {m[key]!r} but lists "
          f"{actual}; delete it to redraw the set")
  if result.source != "mubench" and unit_count(
      result.ratio, len(all_ids)) != len(forget):
    raise errors.DataError(
        f"deletion manifest {path} says ratio {result.ratio:g}% of "
        f"{len(all_ids)} units, which is "
        f"{unit_count(result.ratio, len(all_ids))} units, but lists "
        f"{len(forget)}; delete it to redraw the set")
  return result


def standard_sets(root: str, all_ids: Sequence[int], *, dataset: str,
                  seed: int, ratios: Sequence[float] = STANDARD_RATIOS
                  ) -> dict[float, DeletionSet]:
  """Loads, or draws and saves, the nested sets for `ratios` (percent)."""
  return {float(r): _load_or_draw(
      manifest_path(root, dataset, seed, float(r)), all_ids, ratio=r,
      seed=seed, dataset=dataset) for r in ratios}


def skewed_set(root: str, all_ids: Sequence[int], labels: Sequence[int], *,
               dataset: str, seed: int, ratio: float,
               skew_class: int) -> DeletionSet:
  """Loads, or draws and saves, the class-skewed set (see `draw`)."""
  return _load_or_draw(
      manifest_path(root, dataset, seed, float(ratio), f"class{skew_class}"),
      all_ids, ratio=ratio, seed=seed, dataset=dataset, labels=labels,
      skew_class=skew_class)


def check_request(loaded: DeletionSet, asked: DeletionSet,
                  path: str) -> None:
  """Refuses a manifest that holds another set than the config asks for
  (`asked`, drawn again: it is regenerable), naming what differs: a hand
  edit with a recomputed hash is consistent in itself, and would
  otherwise be forgotten and reported in place of the set asked for."""
  n = len(asked.forget_ids)
  diff = [f"{name} {got} (the config asks for {want})"
          for name, got, want in (
              ("dataset", loaded.dataset, asked.dataset),
              ("unit", loaded.unit, asked.unit),
              ("strategy", loaded.source, asked.source),
              ("seed", loaded.seed, asked.seed),
              ("ratio", f"{loaded.ratio:g}%", f"{asked.ratio:g}%"))
          if got != want]
  if len(loaded.forget_ids) != n:
    diff.append(f"{len(loaded.forget_ids)} ids (the config asks for {n}: "
                f"{asked.ratio:g}% of {len(asked.all_ids)} units)")
  if not diff and not np.array_equal(loaded.forget_ids, asked.forget_ids):
    diff.append(f"its ids are not the ones seed {asked.seed} draws")
  if diff:
    raise errors.DataError(
        f"deletion manifest {path} does not hold the set the config asks "
        f"for: {'; '.join(diff)}; delete it to regenerate the set")


def _load_or_draw(path: str, all_ids, **kwargs) -> DeletionSet:
  result = draw(all_ids, **kwargs)  # a permutation: cheap to redo
  if os.path.exists(path):
    check_request(load(path, all_ids), result, path)
  else:
    save(result, path)
  return result

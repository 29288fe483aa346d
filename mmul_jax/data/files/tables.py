"""A user's manifest read as a table: JSONL, CSV, Parquet (one file or a
folder of shards, as the Hugging Face Hub stores datasets), or a Hugging
Face dataset directory written by `Dataset.save_to_disk` (its Arrow files,
read with pyarrow: no `datasets` package, no network). A table is its
column names and its rows, as dicts, in the file's order; row numbers are
0-based and count data rows only (a CSV's header is not a row), which is
what deletion files and messages use."""

from __future__ import annotations

import csv
import dataclasses
import glob
import json
import os

from mmul_jax import errors
from mmul_jax import io_utils

FORMATS = (".jsonl", ".json", ".csv", ".parquet")


@dataclasses.dataclass(frozen=True)
class Table:
  """`rows[i]` is row i of `path`; a row that could not be parsed (a JSONL
  line that is not a JSON object) is kept as its problem, a string, so that
  validation names it with the others."""

  path: str
  columns: tuple[str, ...]
  rows: list

  def where(self, row: int) -> str:
    return f"{self.path}, row {row}"


def read(path: str) -> Table:
  """The table at `path` (a file of `FORMATS`, a folder of Parquet shards,
  or a `save_to_disk` directory); a `DataError` naming the file when it
  cannot be read."""
  path = os.path.expanduser(path)
  if not os.path.exists(path):
    raise errors.DataError(f"{path} does not exist; point data.files.train "
                           "/ data.files.test at your manifest")
  try:
    if os.path.isdir(path):
      return _directory(path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".jsonl", ".json"):
      return _json_lines(path)
    if ext == ".csv":
      return _csv(path)
    if ext == ".parquet":
      return _parquet([path], path)
  except UnicodeDecodeError as e:
    raise errors.DataError(f"{path} is not UTF-8 text ({e})") from None
  except OSError as e:
    raise errors.DataError(f"cannot read {path}: {e}") from None
  raise errors.DataError(
      f"{path}: unknown manifest format {ext or '(no extension)'!r}; use "
      f"one of {', '.join(FORMATS)}, a folder of Parquet shards, or a "
      "directory written by datasets' save_to_disk")


def _json_lines(path: str) -> Table:
  rows, columns = [], {}
  with open(path, encoding="utf-8") as f:
    for n, line in enumerate(f, start=1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        rows.append(f"line {n} is not JSON ({e.msg})")
        continue
      if not isinstance(row, dict):
        rows.append(f"line {n} is not a JSON object")
        continue
      rows.append(row)
      columns.update(dict.fromkeys(row))
  return Table(path, tuple(columns), rows)


def _csv(path: str) -> Table:
  with open(path, encoding="utf-8", newline="") as f:
    reader = csv.DictReader(f)
    rows = []
    for row in reader:
      extra = row.pop(None, None)  # more cells than header names
      rows.append(f"has {len(extra)} more cell(s) than the header's "
                  f"{len(reader.fieldnames)} columns" if extra else row)
    return Table(path, tuple(reader.fieldnames or ()), rows)


def _parquet(files: list[str], path: str) -> Table:
  pq = errors.require("pyarrow.parquet", extra="data",
                      needed_for="reading Parquet manifests")
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  try:
    table = pa.concat_tables([pq.read_table(f) for f in files],
                             promote_options="default")
  except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
    raise errors.DataError(f"{path} is not readable Parquet ({e})") from None
  return Table(path, tuple(table.column_names), table.to_pylist())


def _directory(path: str) -> Table:
  if os.path.exists(os.path.join(path, "dataset_dict.json")):
    splits = sorted(d for d in os.listdir(path)
                    if os.path.isdir(os.path.join(path, d)))
    example = "train" if "train" in splits or not splits else splits[0]
    raise errors.DataError(
        f"{path} holds several splits ({', '.join(splits)}); point "
        f"data.files.train and data.files.test at one each, e.g. "
        f"{os.path.join(path, example)}")
  state = os.path.join(path, "state.json")
  if os.path.exists(state):
    return _saved_dataset(path, state)
  shards = sorted(glob.glob(os.path.join(path, "**", "*.parquet"),
                            recursive=True))
  if shards:
    return _parquet(shards, path)
  raise errors.DataError(
      f"{path} is a folder with neither Parquet files nor a save_to_disk "
      "dataset (state.json); point data.files.train / test at the manifest")


def _saved_dataset(path: str, state_file: str) -> Table:
  """`Dataset.save_to_disk`'s directory: state.json lists its Arrow files
  (Arrow IPC streams) in order."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  state = io_utils.read_json(state_file, what="save_to_disk state file",
                             remedy="save the dataset again",
                             error=errors.DataError)
  names = [f.get("filename") for f in state.get("_data_files") or []]
  if not names or not all(names):
    raise errors.DataError(f"{state_file} lists no data files; save the "
                           "dataset again")
  tables = []
  for name in names:
    file = os.path.join(path, name)
    try:
      with pa.memory_map(file) as source:
        tables.append(pa.ipc.open_stream(source).read_all())
    except (OSError, pa.ArrowInvalid) as e:
      raise errors.DataError(f"{file} is not a readable Arrow file ({e}); "
                             "save the dataset again") from None
  table = pa.concat_tables(tables)
  return Table(path, tuple(table.column_names), table.to_pylist())

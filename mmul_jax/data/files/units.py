"""A user's table turned into deletion units, every row checked first.

`data.files.task` says what a row holds and what a unit is:

* grouped kinds (`retrieval`, `image_text_classification`,
  `molecule_text`): an input (an image, a SMILES string) and its text(s)
  (one per row, or a list); the rows sharing an id (by default the input
  itself: an image path, a SMILES) are one unit, the input with all its
  texts (and, for classification, each sentence's label);
* unimodal kinds (`image_classification`, `text_classification`,
  `audio_classification`, `video_classification`): an input and a label;
  a row is a unit, its id the id column's value or its row number.

A bad row is one line naming the file and the row: a missing column value,
a missing or undecodable file, an empty text, an id repeated (unimodal) or
naming two inputs (grouped), a label outside the declared classes, a value
whose type differs from the column's earlier rows. `check` collects them
all; the build refuses the first (and counts the rest) unless
`data.skip_bad_rows`, which leaves those rows out. A column the table lacks
altogether stops at once.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import os
from typing import Any

import numpy as np
import PIL.Image

from mmul_jax import errors
from mmul_jax.data.files import tables


@dataclasses.dataclass(frozen=True)
class Kind:
  """What a row of a task kind holds: its input's modality ("image",
  "text", "audio", "video", "smiles"), whether rows group into units with
  texts (and that text column's default name), whether it has labels."""

  input: str
  grouped: bool = False
  text: str = ""
  labelled: bool = True


KINDS = {
    "retrieval": Kind("image", grouped=True, text="caption",
                      labelled=False),
    "image_text_classification": Kind("image", grouped=True,
                                      text="sentence"),
    "molecule_text": Kind("smiles", grouped=True, text="description",
                          labelled=False),
    "image_classification": Kind("image"),
    "text_classification": Kind("text"),
    "audio_classification": Kind("audio"),
    "video_classification": Kind("video"),
}
# Clips are kept as this many evenly spaced JPEG frames (the pipeline
# samples `data.num_frames` of them), the shorter side this many pixels.
VIDEO_FRAMES = 16
FRAME_SIZE = 128


@dataclasses.dataclass(frozen=True)
class Settings:
  """`data.files` (and `data.skip_bad_rows`) as the build reads them."""

  task: str
  train: str
  test: str
  root: str = ""
  id_column: str = ""
  input_column: str = ""
  text_column: str = ""
  label_column: str = "label"
  classes: tuple[str, ...] = ()
  sample_rate: int = 16000
  skip_bad_rows: bool = False

  @property
  def kind(self) -> Kind:
    return KINDS[self.task]

  @property
  def input(self) -> str:
    return self.input_column or self.kind.input

  @property
  def text(self) -> str:
    return self.text_column or self.kind.text

  def columns(self) -> dict[str, str]:
    """The table columns read, by the `data.files` key naming each."""
    out = {"input_column": self.input}
    if self.kind.grouped:
      out["text_column"] = self.text
    if self.kind.labelled:
      out["label_column"] = self.label_column
    if self.id_column:
      out["id_column"] = self.id_column
    return out

  def root_of(self, table_path: str) -> str:
    """Where relative paths in a table start: `root`, else its folder."""
    if self.root:
      return os.path.expanduser(self.root)
    return (table_path if os.path.isdir(table_path)
            else os.path.dirname(table_path))


def parse_classes(value) -> tuple[str, ...]:
  """`data.files.classes`: "cat,dog" or a tuple of names."""
  if isinstance(value, str):
    return tuple(c.strip() for c in value.split(",") if c.strip())
  return tuple(str(c) for c in value)


def _absolute(path: str) -> str:
  return os.path.abspath(os.path.expanduser(path)) if path else ""


def settings_of(d) -> Settings:
  f = d["files"]
  return Settings(
      task=f["task"], train=_absolute(f["train"]),
      test=_absolute(f["test"]), root=_absolute(f["root"]),
      id_column=f["id_column"], input_column=f["input_column"],
      text_column=f["text_column"], label_column=f["label_column"],
      classes=parse_classes(f["classes"]), sample_rate=int(f["sample_rate"]),
      skip_bad_rows=bool(d["skip_bad_rows"]))


@dataclasses.dataclass
class Unit:
  """One deletion unit: its id as the user wrote it (`key`), its rows, its
  input (as the table holds it: a path, bytes, a text or a SMILES), and
  its texts and labels (grouped kinds) or label (unimodal)."""

  key: str
  rows: list[int]
  source: Any
  texts: list[str] = dataclasses.field(default_factory=list)
  labels: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Checked:
  """A table's units and every problem found (one line each)."""

  units: list[Unit]
  problems: list[str]
  num_rows: int


class BadRow(Exception):
  """A row's problem (without the file and row, which the caller adds)."""


def _type(value) -> str:
  return "list" if isinstance(value, (list, tuple)) else type(value).__name__


def media(value, root: str, what: str):
  """The file a media cell names: a path (relative to `root`), bytes, or a
  Hugging Face Image/Audio struct `{"bytes", "path"}`; `(data, name)`,
  where `data` is bytes or an existing file's path."""
  if isinstance(value, dict):
    if value.get("bytes"):
      return bytes(value["bytes"]), value.get("path") or "(bytes)"
    value = value.get("path")
  if isinstance(value, (bytes, bytearray)):
    if not value:
      raise BadRow(f"the {what} bytes are empty")
    return bytes(value), "(bytes)"
  if not isinstance(value, str) or not value.strip():
    raise BadRow(f"no {what} file named")
  path = os.path.join(root, os.path.expanduser(value))
  if not os.path.isfile(path):
    raise BadRow(f"{what} file {path} is missing")
  return path, path


def _read(data) -> bytes:
  if isinstance(data, bytes):
    return data
  with open(data, "rb") as f:
    return f.read()


def decode(settings: Settings, value, root: str):
  """The model-ready input of a cell: an RGB uint8 image, a text, int16
  samples, a clip's JPEG frames, or a molecule graph; `BadRow` when it
  cannot be read."""
  kind = settings.kind.input
  if kind in ("text", "smiles"):
    if not isinstance(value, str) or not value.strip():
      raise BadRow(f"the {'text' if kind == 'text' else 'SMILES'} is empty")
    if kind == "text":
      return value.strip()
    from mmul_jax.data.graphs import molecules  # pylint: disable=g-import-not-at-top
    try:
      return molecules.smiles_to_graph(value.strip())
    except errors.DataError:
      raise BadRow(f"invalid SMILES {value.strip()[:60]!r} (RDKit could not "
                   "parse it)") from None
  data, name = media(value, root, kind)
  if kind == "image":
    try:
      with PIL.Image.open(io.BytesIO(_read(data))) as img:
        return np.asarray(img.convert("RGB"))
    except PIL.UnidentifiedImageError:
      raise BadRow(f"image {name} cannot be decoded (not an image format "
                   "Pillow reads)") from None
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as e:
      raise BadRow(f"image {name} cannot be decoded ({e})") from None
  if kind == "audio":
    from mmul_jax.data.downloaded import signal_real_tfds  # pylint: disable=g-import-not-at-top
    try:
      return signal_real_tfds.read_wav(
          _read(data), f"audio {name}", settings.sample_rate,
          remedy="convert it to 16-bit mono WAV at data.files.sample_rate")
    except errors.DataError as e:
      raise BadRow(str(e)) from None
  from mmul_jax.data.downloaded import signal_real_tfds  # pylint: disable=g-import-not-at-top
  try:
    return signal_real_tfds.decode_clip(
        io.BytesIO(data) if isinstance(data, bytes) else data,
        num_frames=VIDEO_FRAMES, frame_size=FRAME_SIZE,
        where=f"video {name}", remedy="re-encode it (any format FFmpeg "
        "reads)")
  except errors.DataError as e:
    raise BadRow(str(e)) from None


def label_index(value, classes: tuple[str, ...]) -> int:
  """A label cell as a class index: a class name, or an index into the
  declared classes (an int, or digits in a CSV)."""
  if isinstance(value, bool) or value is None:
    raise BadRow(f"label {value!r} is not a class name or index")
  name = str(value).strip()
  if name in classes:
    return classes.index(name)
  if isinstance(value, int) or name.isdigit():
    index = int(name)
    if 0 <= index < len(classes):
      return index
  raise BadRow(f"label {value!r} is not one of the declared classes "
               f"(data.files.classes: {', '.join(classes)})")


def _texts(value) -> list[str]:
  values = value if isinstance(value, (list, tuple)) else [value]
  if not values:
    raise BadRow("the text list is empty")
  out = []
  for v in values:
    if not isinstance(v, str) or not v.strip():
      raise BadRow(f"the text is empty ({v!r})")
    out.append(v.strip())
  return out


def _identity(value) -> str:
  """What tells two grouped rows' inputs apart (bytes by their digest)."""
  if isinstance(value, dict):
    value = value.get("bytes") or value.get("path")
  if isinstance(value, (bytes, bytearray)):
    return "bytes:" + hashlib.sha256(bytes(value)).hexdigest()[:16]
  return str(value)


def check_columns(table: tables.Table, settings: Settings) -> None:
  """Every column the task reads is in the table, or one line naming it."""
  for key, column in settings.columns().items():
    if column not in table.columns:
      raise errors.DataError(
          f"{table.path} has no column {column!r} (data.files.{key}); its "
          f"columns: {', '.join(table.columns) or 'none'}")


def check(table: tables.Table, settings: Settings, *,
          decode_inputs: bool = True, progress=None) -> Checked:
  """Every row of `table` checked (inputs decoded unless not
  `decode_inputs`), grouped into units; the problems in row order."""
  check_columns(table, settings)
  kind, root = settings.kind, settings.root_of(table.path)
  columns = settings.columns()
  types: dict[str, tuple[str, int]] = {}
  units: dict[str, Unit] = {}
  inputs: dict[str, tuple[str, int]] = {}  # key -> (input identity, row)
  decoded: dict[str, bool] = {}  # input identity -> decodes
  problems = []
  for row, values in enumerate(table.rows):
    if progress is not None:
      progress.update(1)
    try:
      if isinstance(values, str):  # an unparsable line
        raise BadRow(values)
      for key, column in columns.items():
        value = values.get(column)
        if value is None or (isinstance(value, str) and not value.strip()
                             and key != "text_column"):
          raise BadRow(f"column {column!r} is empty")
        seen = types.setdefault(column, (_type(value), row))
        if seen[0] != _type(value):
          raise BadRow(f"column {column!r} holds {_type(value)} "
                       f"{str(value)[:40]!r} where row {seen[1]} holds "
                       f"{seen[0]}")
      source = values[settings.input]
      ident = _identity(source)
      if settings.id_column:
        key = str(values[settings.id_column])
      elif kind.grouped:
        if ident.startswith("bytes:"):
          raise BadRow("inputs given as bytes need an id column to group "
                        "rows: set data.files.id_column")
        key = ident
      else:
        key = str(row)
      texts = _texts(values[settings.text]) if kind.grouped else []
      label = (label_index(values[settings.label_column], settings.classes)
               if kind.labelled else None)
      if key in inputs and (not kind.grouped or inputs[key][0] != ident):
        first = inputs[key][1]
        raise BadRow(f"id {key!r} repeats row {first}" if not kind.grouped
                     else f"id {key!r} names another input than row "
                     f"{first} did")
      if decode_inputs and ident not in decoded:
        try:
          decode(settings, source, root)
          decoded[ident] = True
        except BadRow:
          decoded[ident] = False
          raise
      elif decode_inputs and not decoded[ident]:
        raise BadRow(f"its input {ident[:60]} cannot be read (see row "
                     "above)")
    except BadRow as e:
      problems.append(f"{table.where(row)}: {e}")
      continue
    inputs.setdefault(key, (ident, row))
    unit = units.setdefault(key, Unit(key, [], source))
    unit.rows.append(row)
    unit.texts += texts
    if label is not None:
      unit.labels += [label] * max(1, len(texts))
  return Checked(list(units.values()), problems, len(table.rows))


def refuse_or_skip(checked: Checked, settings: Settings, path: str,
                   log=None) -> list[Unit]:
  """The units, after the problems: the first refused (with their count)
  unless `skip_bad_rows`, then they are counted and left out."""
  n = len(checked.problems)
  if n and not settings.skip_bad_rows:
    more = f" ({n} bad rows in all)" if n > 1 else ""
    raise errors.DataError(
        f"{checked.problems[0]}{more}. Fix the row(s), or set "
        "data.skip_bad_rows=true to leave them out (scripts/prepare.py "
        "lists every one)")
  if n and log is not None:
    kinds = collections.Counter(p.split(": ", 1)[1].split(" (")[0][:50]
                                for p in checked.problems)
    log(f"{path}: skipped {n} of {checked.num_rows} rows "
        f"(data.skip_bad_rows); the first: {checked.problems[0]}; "
        f"{len(kinds)} kind(s) of problem")
  if not checked.units:
    raise errors.DataError(f"{path} has no usable rows"
                           + (f" ({n} bad)" if n else ""))
  return checked.units

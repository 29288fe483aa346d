"""What the builders of hand-downloaded datasets share: checking for the
user's files (with the builder's instructions) and building once.

A builder here has `MANUAL_DOWNLOAD_INSTRUCTIONS` and a classmethod
`required_files(manual_dir)` listing what must exist before building; files
it finds missing later (an image) it reports itself.
"""

from __future__ import annotations

import json
import os

import tensorflow_datasets as tfds

from mmul_jax import errors


def _not_utf8(path: str, line: int, e: UnicodeDecodeError,
              column: int) -> errors.DataError:
  return errors.DataError(
      f"{path}, line {line}: byte 0x{e.object[e.start]:02x} at column "
      f"{column} is not UTF-8 text; re-save the file as UTF-8 (or "
      "re-download it)")


def text_lines(path: str):
  """`(line number, text)` of every line of a UTF-8 file, each ending in
  its newline; a byte that is not UTF-8 is a `DataError` naming the file
  and the line (instead of a decoder traceback from deep in TFDS)."""
  with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
      try:
        yield n, raw.decode("utf-8")
      except UnicodeDecodeError as e:
        raise _not_utf8(path, n, e, e.start + 1) from None


def json_lines(path: str):
  """`(line number, parsed object)` of every non-empty line of a JSON-lines
  file; bad lines are `DataError`s naming the file and the line."""
  for n, line in text_lines(path):
    if line.strip():
      try:
        yield n, json.loads(line)
      except ValueError as e:
        raise errors.DataError(f"{path}, line {n} is not JSON ({e}); "
                               "re-download the file") from None


def check_manual_files(builder_cls, manual_dir: str) -> None:
  """Raises `DataError` with the download instructions when a required
  file is absent: before any compute, and before TFDS's own, vaguer check."""
  missing = [p for p in builder_cls.required_files(manual_dir)
             if not os.path.exists(p)]
  if missing:
    raise errors.DataError(
        f"{builder_cls.__name__}: missing {', '.join(missing)}.\n"
        f"{builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS}")


class SplitFiles:
  """A builder mixin for datasets with one annotation file per split in
  the manual directory (`SPLIT_FILES`: split -> file name): those files
  are required, and each split is `_generate_examples(manual_dir, file)`."""

  SPLIT_FILES: dict[str, str] = {}

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    return [os.path.join(manual_dir, f) for f in cls.SPLIT_FILES.values()]

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    check_manual_files(type(self), manual_dir)
    return {split: self._generate_examples(manual_dir, file)
            for split, file in self.SPLIT_FILES.items()}


def is_prepared(builder_cls, data_dir: str) -> bool:
  """Whether TFDS's files of the builder exist (constructing the builder to
  ask would log a warning when they do not)."""
  return os.path.exists(os.path.join(data_dir, builder_cls.name,
                                     str(builder_cls.VERSION),
                                     "dataset_info.json"))


def check_available(builder_cls, data_dir: str, manual_dir: str) -> None:
  """`check_manual_files` unless the dataset is already built."""
  if not is_prepared(builder_cls, data_dir):
    check_manual_files(builder_cls, manual_dir)


def prepare(builder_cls, data_dir: str, manual_dir: str = ""):
  """Builds (once) and returns the builder; `manual_dir` defaults to TFDS's
  `<data_dir>/downloads/manual`."""
  data_dir = os.fspath(data_dir)
  manual_dir = manual_dir or os.path.join(data_dir, "downloads", "manual")
  check_available(builder_cls, data_dir, manual_dir)
  builder = builder_cls(data_dir=data_dir)
  builder.download_and_prepare(
      file_format="array_record",
      download_config=tfds.download.DownloadConfig(
          manual_dir=manual_dir, try_download_gcs=False))
  return builder

"""What the builders over Parquet releases of Hugging Face datasets share
(CLEAR's `clear_tfds`, MLLMU-Bench's `mllmu_tfds`): reading a set's shards
by column, checking texts and option lists, and decoding the image
structs (`{bytes, path}`) that embed each picture. Every bad file is one
`DataError` naming it and the release's download command."""

from __future__ import annotations

import dataclasses
import glob
import io
import os

import numpy as np
import PIL.Image

from mmul_jax import errors
from mmul_jax.data.core import modalities


@dataclasses.dataclass(frozen=True)
class Release:
  """A release by `name`, downloaded by the command `get`."""

  name: str
  get: str

  def read(self, directory: str, columns: tuple[str, ...]) -> list[tuple]:
    """`(where, row)` of every row of a config's Parquet shards, only
    `columns` read; a missing column or an unreadable file is a `DataError`
    naming the file."""
    pq = errors.require("pyarrow.parquet", extra="data",
                        needed_for=f"reading {self.name}'s Parquet files")
    import pyarrow as pa  # pylint: disable=g-import-not-at-top
    shards = sorted(glob.glob(os.path.join(directory, "**", "*.parquet"),
                              recursive=True))
    if not shards:
      raise errors.DataError(f"{directory} holds no Parquet files; download "
                             f"{self.name} again: {self.get}")
    out = []
    for shard in shards:
      try:
        names = pq.read_schema(shard).names
        missing = [c for c in columns if c not in names]
        rows = [] if missing else pq.read_table(
            shard, columns=list(columns)).to_pylist()
      except (pa.ArrowException, OSError) as e:
        raise errors.DataError(f"{shard} is not readable Parquet ({e}); "
                               f"download it again: {self.get}") from None
      if missing:
        raise errors.DataError(
            f"{shard} has no column {', '.join(missing)} (it has "
            f"{', '.join(names)}); is it {self.name}'s "
            f"{os.path.basename(directory)} set? Download {self.name} "
            f"again: {self.get}")
      out += [(f"{shard}, row {n}", r) for n, r in enumerate(rows)]
    return out

  def text(self, row: dict, key: str, where: str) -> str:
    if not isinstance(row[key], str) or not row[key]:
      raise errors.DataError(f"{where}: {key} must be a non-empty string; "
                             f"download the file again: {self.get}")
    return row[key]

  def options(self, wrong, answer: str, where: str, key: str,
              count: int) -> list[str]:
    """`count` wrong answers from a list (without the answer; a shorter
    list repeats)."""
    if not isinstance(wrong, list) or not all(isinstance(w, str)
                                              for w in wrong):
      raise errors.DataError(f"{where}: {key} must be a list of strings; "
                             f"download the file again: {self.get}")
    wrong = [w for w in wrong if w.strip() != answer.strip()]
    if not wrong:
      raise errors.DataError(f"{where}: {key} must list wrong answers "
                             "besides the answer; download the file again: "
                             f"{self.get}")
    return (wrong * count)[:count]

  def pixels(self, image, where: str, size: int) -> np.ndarray:
    """A Hugging Face Image struct's picture, RGB, fitted to `size`."""
    data = image.get("bytes") if isinstance(image, dict) else None
    if not data:
      raise errors.DataError(
          f"{where}: the image holds no bytes (path {image!r:.80}); download "
          f"the Parquet files, which embed the images: {self.get}")
    try:
      with PIL.Image.open(io.BytesIO(data)) as img:
        rgb = np.asarray(img.convert("RGB"))
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as e:
      raise errors.DataError(f"{where}: the image cannot be decoded ({e}); "
                             f"download the file again: {self.get}") from None
    return modalities.fit_image(rgb, size)

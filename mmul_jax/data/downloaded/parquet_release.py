"""What the builders over Parquet releases of Hugging Face datasets share
(CLEAR's `clear_tfds`, MLLMU-Bench's `mllmu_tfds`): reading a set's shards
by column, checking texts and option lists, and decoding the image
structs (`{bytes, path}`) that embed each picture. Every bad file is one
`DataError` naming it and the release's download command. `ImageRecords`
is their builders' record layout: the question-answer records with
images, the pictures decoded and fitted when each unit is written."""

from __future__ import annotations

import dataclasses
import glob
import io
import os

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

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


class ImageRecords:
  """A mixin before a `generation_real_tfds._QaBuilder`: the features of
  question-answer records with images (`data.core.qa`), the units'
  `images` given as `(image struct, where)` pairs by `_splits` and stored
  as uint8 pixels fitted to `IMAGE_SIZE` square, zlib-compressed (without
  TensorFlow, TFDS cannot read back a sequence of differently sized
  images). `RELEASE` names the download in errors; `_extra_features` adds
  a builder's own."""

  RELEASE: Release
  # The stored pictures' side: BLIP's 384, so pretrained resolutions up to
  # it fit without upsampling.
  IMAGE_SIZE = 384

  def _extra_features(self) -> dict:
    return {}

  def _info(self) -> tfds.core.DatasetInfo:
    texts = tfds.features.Sequence(tfds.features.Text())
    ints = tfds.features.Sequence(tfds.features.Scalar(dtype=np.int64))
    size = self.IMAGE_SIZE
    return self.dataset_info_from_configs(
        description=self.__doc__, features=tfds.features.FeaturesDict({
            "unit_id": tfds.features.Scalar(dtype=np.int64),
            "row": tfds.features.Scalar(dtype=np.int64),
            "images": tfds.features.Tensor(shape=(None, size, size, 3),
                                           dtype=np.uint8, encoding="zlib"),
            "questions": texts, "answers": texts, "paraphrased": texts,
            "perturbed": texts, "image_index": ints, "question_type": ints,
            **self._extra_features()}), supervised_keys=None)

  def _generate_examples(self, units, offset: int):
    # Pictures are decoded here, one unit at a time, not all held at once.
    size = self.IMAGE_SIZE
    for key, ex in super()._generate_examples(units, offset):
      pixels = [self.RELEASE.pixels(image, where, size)
                for image, where in ex["images"]]
      yield key, {**ex, "images": (np.stack(pixels) if pixels else
                                   np.zeros((0, size, size, 3), np.uint8))}

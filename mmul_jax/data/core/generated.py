"""Building a generated dataset: seeded, written locally once as
array_record, then read from the files."""

from __future__ import annotations

import os

import tensorflow_datasets as tfds


def prepare_generated(builder_cls, config, data_dir: str):
  """Builds (once) a locally generated dataset with `config` (a listed
  config by name, else the config itself) and returns the builder."""
  listed = {c.name for c in builder_cls.BUILDER_CONFIGS}
  builder = builder_cls(
      config=config.name if config.name in listed else config,
      data_dir=os.fspath(data_dir))
  builder.download_and_prepare(
      file_format="array_record",
      download_config=tfds.download.DownloadConfig(
          try_download_gcs=False))
  return builder


def from_data_config(prepare, builder_cls):
  """`DatasetSpec.build` of a generated `builder_cls` through `prepare`
  (whose configuration is the size, image size and seed of `data`)."""
  return lambda d, root: prepare(
      builder_cls, root, num_train=d.num_train, num_test=d.num_test,
      image_size=d.image_size, seed=d.seed)

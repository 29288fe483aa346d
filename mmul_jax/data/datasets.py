"""The datasets a config can name (`data.name`), and how each is prepared.

Every dataset is a TFDS builder read through `tfds.data_source`, one record
per deletion unit: its image(s) (uint8, any size; the pipeline fits them to
`data.image_size`), its id, and its texts (captions, or sentences with
labels for classification tasks). Each dataset module declares its
`DatasetSpec` beside its builder (generated/: the embedded generators;
downloaded/: builders over hand-downloaded files; graphs/: molecules);
this registry collects them, one line per module. The downloaded ones are
built from files the user downloads (`data.manual_dir`); without them,
preparing stops at once with the download instructions.
"""

from __future__ import annotations

import collections.abc
import os
from typing import Iterator

import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data.core import pipeline
from mmul_jax.data.core.spec import DatasetSpec
from mmul_jax.data.downloaded import class_images_tfds
from mmul_jax.data.downloaded import classification_tfds
from mmul_jax.data.downloaded import clear_tfds
from mmul_jax.data.downloaded import generation_real_tfds
from mmul_jax.data.downloaded import karpathy_tfds
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.downloaded import mllmu_tfds
from mmul_jax.data.downloaded import signal_real_tfds
from mmul_jax.data.downloaded import unimodal_real_tfds
from mmul_jax.data.files import files_tfds
from mmul_jax.data.generated import class_prompts_tfds
from mmul_jax.data.generated import generation_tfds
from mmul_jax.data.generated import shapes_tasks_tfds
from mmul_jax.data.generated import shapes_tfds
from mmul_jax.data.generated import unimodal_tfds
from mmul_jax.data.graphs import molecule_tfds

__all__ = ["DATASETS", "DatasetSpec", "FILES", "NAMES", "check_available",
           "data_dir", "index_splits", "prepare", "prepare_ood", "spec_of",
           "texts"]

DATASETS: dict[str, DatasetSpec] = {
    **shapes_tfds.DATASETS,
    **shapes_tasks_tfds.DATASETS,
    **karpathy_tfds.DATASETS,
    **classification_tfds.DATASETS,
    **molecule_tfds.DATASETS,
    **unimodal_tfds.DATASETS,
    **class_prompts_tfds.DATASETS,
    **signal_real_tfds.DATASETS,
    **unimodal_real_tfds.DATASETS,
    **class_images_tfds.DATASETS,
    **generation_tfds.DATASETS,
    **generation_real_tfds.DATASETS,
    **clear_tfds.DATASETS,
    **mllmu_tfds.DATASETS,
}


# `data.name = "files"`: the user's own tables (`data.files`), whose spec
# depends on the config (`spec_of`).
FILES = files_tfds.NAME


class _Names(collections.abc.Collection):
  """Every `data.name`: the registry's (read live: a module may register
  more) and `files`."""

  def __contains__(self, name) -> bool:
    return name == FILES or name in DATASETS

  def __iter__(self):
    return iter((*DATASETS, FILES))

  def __len__(self) -> int:
    return len(DATASETS) + 1


NAMES = _Names()


def spec_of(d) -> DatasetSpec:
  """The `DatasetSpec` of `config.data` (a ConfigDict or the dict a
  results file keeps): the registry's, or that of `data.files`."""
  if d["name"] == FILES:
    return files_tfds.dataset_spec(d)
  return DATASETS[d["name"]]


def data_dir(d) -> str:
  return os.path.expanduser(d.data_dir or "~/tensorflow_datasets")


def _manual_dir(d) -> str:
  return os.path.expanduser(d.manual_dir) or os.path.join(
      data_dir(d), "downloads", "manual")


def check_available(d) -> None:
  """Raises `DataError` with instructions if a manual dataset's files are
  neither prepared nor downloaded; cheap, for before any compute."""
  spec = spec_of(d)
  for builder_cls in (spec.manual, spec.ood_builder):
    if builder_cls:
      manual_tfds.check_available(builder_cls, data_dir(d), _manual_dir(d))


def prepare(d):
  """The TFDS builder of `config.data`, built on first use. A data_dir that
  cannot hold it (a file, a read-only or full disk) is a `DataError` naming
  `data.data_dir`."""
  root = data_dir(d)
  if os.path.exists(root) and not os.path.isdir(root):
    raise errors.ConfigError(f"data.data_dir {root} is a file, not a "
                             "directory; pass another --config.data.data_dir")
  try:
    return _prepare(d)
  except OSError as e:
    where = e.filename or root
    raise errors.DataError(
        f"cannot prepare dataset {d.name} in data.data_dir {root} ({where}: "
        f"{e.strerror or e}); pass a --config.data.data_dir this user can "
        "write, with free space (the dataset is built there once)") from None


def _prepare(d):
  spec = spec_of(d)
  if spec.build is not None:
    return spec.build(d, data_dir(d))
  return manual_tfds.prepare(spec.manual, data_dir(d), _manual_dir(d))


def prepare_ood(d):
  """The builder of `config.data`'s out-of-distribution test set (None
  when the dataset has none), built on first use."""
  ood = spec_of(d).ood_builder
  if ood is None:
    return None
  return manual_tfds.prepare(ood, data_dir(d), _manual_dir(d))


def texts(builder, spec: DatasetSpec, split: str = "train") -> Iterator[str]:
  """Every text of a split, its images left undecoded (reading them is
  most of a record's cost), for training a tokenizer; none for a dataset
  without text."""
  if not spec.has_text:
    return
  source = builder.as_data_source(
      split, decoders={k: tfds.decode.SkipDecoding()
                       for k in spec.image_keys})
  for i in range(len(source)):
    yield from spec.texts_of(source[i])


def index_splits(builder, spec: DatasetSpec):
  """The train and test splits, every record read once (so a truncated or
  corrupt prepared file stops here, before any compute, naming it)."""
  try:
    sources = builder.as_data_source()
    return tuple(pipeline.index_split(sources[s], desc=f"index {s}",
                                      id_key=spec.id_key)
                 for s in ("train", "test"))
  except RuntimeError as e:  # array_record's reader raises RuntimeError
    text = str(e)
    if not any(w in text for w in ("ArrayRecord", "Riegeli", "records")):
      raise
    raise errors.DataError(
        f"the prepared dataset in {builder.data_dir} is truncated or corrupt "
        f"({text.splitlines()[0][:160]}); delete that directory to build it "
        "again (from the generator, or from your downloaded files)"
    ) from None

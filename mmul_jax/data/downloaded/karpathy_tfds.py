"""TensorFlow-Datasets builders for MS-COCO and Flickr30K captions with the
Karpathy splits, from files the user downloads by hand (`manual_dir`).

Both read Karpathy's split file (`dataset_coco.json`, `dataset_flickr30k.json`
from `caption_datasets.zip`) and the JPEGs it names, and write array_record
files with the same features as the embedded dataset: `image` (JPEG,
decoded to uint8 by `tfds.data_source` with Pillow), `image_id`, `captions`
(all of the image's sentences, 5 for Flickr30K, 5-7 for COCO), plus
`filename`. Splits: `train` (COCO: Karpathy train + restval, 113,287
images; Flickr30K: 29,000), `validation` and `test` (COCO: 5,000 each;
Flickr30K: 1,014 and 1,000).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import manual_tfds

_COCO_INSTRUCTIONS = """\
Download into the manual directory (data.manual_dir):
  1. Karpathy's splits: https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip
     and extract dataset_coco.json from it -> <manual_dir>/dataset_coco.json
  2. COCO 2014 images: http://images.cocodataset.org/zips/train2014.zip and
     http://images.cocodataset.org/zips/val2014.zip, extracted so that
     <manual_dir>/train2014/COCO_train2014_*.jpg and
     <manual_dir>/val2014/COCO_val2014_*.jpg exist.
"""

_FLICKR_INSTRUCTIONS = """\
Download into the manual directory (data.manual_dir):
  1. Karpathy's splits: https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip
     and extract dataset_flickr30k.json -> <manual_dir>/dataset_flickr30k.json
  2. The Flickr30K images (request access at
     https://shannon.cs.illinois.edu/DenotationGraph/), extracted so that
     <manual_dir>/flickr30k-images/<id>.jpg exist.
"""

# Karpathy split name -> our split.
_SPLITS = {"train": "train", "restval": "train", "val": "validation",
           "test": "test"}


class _KarpathyCaptions(tfds.core.GeneratorBasedBuilder,
                        skip_registration=True):
  """Shared reader of Karpathy split files."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  SPLIT_FILE = ""
  IMAGE_DIR = ""  # Flickr30K: one folder; COCO: the file's `filepath`

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(encoding_format="jpeg"),
            "image_id": tfds.features.Scalar(dtype=np.int64),
            "captions": tfds.features.Sequence(tfds.features.Text()),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=None,
    )

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    """What must exist before building (the images are checked later)."""
    return [os.path.join(manual_dir, cls.SPLIT_FILE)]

  def _image_path(self, manual_dir: str, entry: dict) -> str:
    folder = entry.get("filepath", "") if not self.IMAGE_DIR else \
        self.IMAGE_DIR
    return os.path.join(manual_dir, folder, entry["filename"])

  def _image_id(self, entry: dict) -> int:
    raise NotImplementedError

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    manual_tfds.check_manual_files(type(self), manual_dir)
    images = io_utils.read_json(
        os.path.join(manual_dir, self.SPLIT_FILE), "images",
        what="Karpathy split file",
        remedy="re-download it (caption_datasets.zip)")["images"]
    by_split = {name: [] for name in set(_SPLITS.values())}
    for entry in images:
      if entry["split"] not in _SPLITS:
        raise errors.DataError(f"{self.SPLIT_FILE}: unknown split "
                               f"{entry['split']!r} for {entry['filename']}")
      by_split[_SPLITS[entry["split"]]].append(entry)
    return {name: self._generate_examples(manual_dir, entries)
            for name, entries in by_split.items()}

  def _generate_examples(self, manual_dir: str, entries: list[dict]):
    for entry in entries:
      path = self._image_path(manual_dir, entry)
      if not os.path.exists(path):
        raise errors.DataError(
            f"image {path} named in {self.SPLIT_FILE} is missing; "
            f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
      image_id = self._image_id(entry)
      yield image_id, {
          "image": path,
          "image_id": image_id,
          "captions": [s["raw"].strip() for s in entry["sentences"]],
          "filename": entry["filename"],
      }


class CocoKarpathy(_KarpathyCaptions):
  """MS-COCO 2014 captions, Karpathy splits; `image_id` is the COCO id."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _COCO_INSTRUCTIONS
  SPLIT_FILE = "dataset_coco.json"

  def _image_id(self, entry: dict) -> int:
    return int(entry["cocoid"])


class Flickr30kKarpathy(_KarpathyCaptions):
  """Flickr30K captions, Karpathy splits; `image_id` is the Flickr id (the
  file name's number)."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _FLICKR_INSTRUCTIONS
  SPLIT_FILE = "dataset_flickr30k.json"
  IMAGE_DIR = "flickr30k-images"

  def _image_id(self, entry: dict) -> int:
    return int(os.path.splitext(entry["filename"])[0])


DATASETS = {
    "coco_karpathy": spec.DatasetSpec(features=spec.RETRIEVAL,
                                      manual=CocoKarpathy),
    "flickr30k_karpathy": spec.DatasetSpec(features=spec.RETRIEVAL,
                                           manual=Flickr30kKarpathy),
}

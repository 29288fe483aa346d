"""TensorFlow-Datasets builders for the MultiDelete paper's vision-language
classification tasks, from files the user downloads by hand (`manual_dir`):

* **NLVR2** (two images + a sentence -> true / false). One record per image
  pair, the deletion unit (spec §1.2): `image0`, `image1`, `unit_id`, and
  the pair's `sentences` with their `labels` and `rows` (each sentence's
  example row in the split's file, the rows MU-Bench's index file lists).
  Splits: train, validation (dev), test (test1).
* **SNLI-VE** (premise image + hypothesis -> entailment / neutral /
  contradiction). One record per premise image, the deletion unit: `image`,
  `unit_id` (the Flickr30K id), and its `sentences` (hypotheses) with their
  `labels`. Splits: train, validation (dev), test.

Images are stored encoded as downloaded (PNG or JPEG) and decoded with
Pillow by `tfds.data_source`. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import collections
import os
import re

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import manual_tfds

NLVR2_LABELS = ("False", "True")
SNLI_VE_LABELS = ("entailment", "neutral", "contradiction")

_NLVR2_INSTRUCTIONS = """\
Download into the manual directory (data.manual_dir), from
https://github.com/lil-lab/nlvr/tree/master/nlvr2:
  1. data/train.json, data/dev.json, data/test1.json
     -> <manual_dir>/train.json, dev.json, test1.json
  2. the images (request them through the form linked there), extracted so
     that <manual_dir>/images/train/<directory>/<pair>-img0.png and
     <manual_dir>/images/dev/<pair>-img0.png, images/test1/... exist.
"""

_SNLI_VE_INSTRUCTIONS = """\
Download into the manual directory (data.manual_dir):
  1. SNLI-VE (https://github.com/necla-ml/SNLI-VE): snli_ve_train.jsonl,
     snli_ve_dev.jsonl, snli_ve_test.jsonl -> <manual_dir>/
  2. the Flickr30K images (request access at
     https://shannon.cs.illinois.edu/DenotationGraph/), extracted so that
     <manual_dir>/flickr30k_images/<Flickr30K_ID>.jpg exist.
"""


def _missing(path: str, instructions: str) -> errors.DataError:
  return errors.DataError(f"{path} is missing.\n{instructions}")


class _UnitsWithSentences(manual_tfds.SplitFiles,
                          tfds.core.GeneratorBasedBuilder,
                          skip_registration=True):
  """A record per deletion unit (its image(s), sentences and labels), built
  from one annotation file per split in the manual directory."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "First release.",
      "1.1.0": "rows: each sentence's example row (0-based) in its split's "
               "file, which MU-Bench's statement-level index files name."}
  LABELS: tuple[str, ...] = ()
  IMAGE_KEYS: tuple[str, ...] = ()
  EXTRA_TEXT: tuple[str, ...] = ()

  def _info(self) -> tfds.core.DatasetInfo:
    features = {k: tfds.features.Image() for k in self.IMAGE_KEYS}
    features.update({k: tfds.features.Text() for k in self.EXTRA_TEXT})
    features.update(
        unit_id=tfds.features.Scalar(dtype=np.int64),
        sentences=tfds.features.Sequence(tfds.features.Text()),
        rows=tfds.features.Sequence(tfds.features.Scalar(dtype=np.int64)),
        labels=tfds.features.Sequence(
            tfds.features.ClassLabel(names=list(self.LABELS))))
    return self.dataset_info_from_configs(
        description=__doc__, features=tfds.features.FeaturesDict(features),
        supervised_keys=None)


class Nlvr2(_UnitsWithSentences):
  """NLVR2 grouped by image pair."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _NLVR2_INSTRUCTIONS
  SPLIT_FILES = {"train": "train.json", "validation": "dev.json",
                 "test": "test1.json"}
  LABELS = NLVR2_LABELS
  IMAGE_KEYS = ("image0", "image1")
  EXTRA_TEXT = ("pair",)
  # "{split}-{set}-{pair}-{sentence}"; the first three name the image pair.
  _IDENTIFIER = re.compile(r"^(\w+)-(\d+)-(\d+)-(\d+)$")

  def _generate_examples(self, manual_dir: str, file: str):
    pairs = collections.OrderedDict()
    for index, (n, row) in enumerate(manual_tfds.json_lines(
        os.path.join(manual_dir, file))):
      match = self._IDENTIFIER.match(row["identifier"])
      if not match or row["label"] not in NLVR2_LABELS:
        raise errors.DataError(
            f"{file} line {n}: unexpected identifier "
            f"{row['identifier']!r} or label {row['label']!r}")
      split, set_id, pair_id, _ = match.groups()
      key = f"{split}-{set_id}-{pair_id}"
      entry = pairs.setdefault(key, {
          "unit_id": int(set_id) * 1000 + int(pair_id),
          "directory": str(row.get("directory", "")), "split": split,
          "sentences": [], "labels": [], "rows": []})
      entry["sentences"].append(row["sentence"])
      entry["labels"].append(row["label"])
      entry["rows"].append(index)
    for key, entry in pairs.items():
      folder = os.path.join(manual_dir, "images", entry["split"],
                            entry["directory"])
      images = [os.path.join(folder, f"{key}-img{i}.png") for i in (0, 1)]
      for path in images:
        if not os.path.exists(path):
          raise _missing(path, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
      yield key, {"image0": images[0], "image1": images[1],
                  "unit_id": entry["unit_id"],
                  "sentences": entry["sentences"],
                  "labels": entry["labels"], "rows": entry["rows"],
                  "pair": key}


class SnliVe(_UnitsWithSentences):
  """SNLI-VE grouped by premise image."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _SNLI_VE_INSTRUCTIONS
  SPLIT_FILES = {"train": "snli_ve_train.jsonl",
                 "validation": "snli_ve_dev.jsonl",
                 "test": "snli_ve_test.jsonl"}
  LABELS = SNLI_VE_LABELS
  IMAGE_KEYS = ("image",)

  def _generate_examples(self, manual_dir: str, file: str):
    premises = collections.OrderedDict()
    for index, (n, row) in enumerate(manual_tfds.json_lines(
        os.path.join(manual_dir, file))):
      if row["gold_label"] not in SNLI_VE_LABELS:
        raise errors.DataError(f"{file} line {n}: unknown gold_label "
                               f"{row['gold_label']!r}")
      entry = premises.setdefault(str(row["Flickr30K_ID"]),
                                  {"sentences": [], "labels": [], "rows": []})
      entry["sentences"].append(row["sentence2"])
      entry["labels"].append(row["gold_label"])
      entry["rows"].append(index)
    for image_id, entry in premises.items():
      path = os.path.join(manual_dir, "flickr30k_images", f"{image_id}.jpg")
      if not os.path.exists(path):
        raise _missing(path, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
      yield image_id, {"image": path, "unit_id": int(image_id), **entry}


_UNITS = dict(task="classification", features=spec.CLASSIFICATION,
              id_key="unit_id", text_key="sentences")
DATASETS = {
    "nlvr2": spec.DatasetSpec(
        **_UNITS, image_keys=("image0", "image1"), labels=NLVR2_LABELS,
        manual=Nlvr2, example_rows="rows",
        grid=spec.GridRecipe(recipe="clip_classification", settings=dict(
            train_rows=86_373, df_units=5000, learning_rate=2e-5,
            end_ratio=0.05, weight_decay=0.02, epochs=5, batch_size=16,
            warmup_steps=650))),
    "snli_ve": spec.DatasetSpec(**_UNITS, labels=SNLI_VE_LABELS,
                                manual=SnliVe),
}

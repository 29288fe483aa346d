"""Builders over hand-downloaded class-labelled image releases
(`data.manual_dir`) for class-level text-to-image unlearning, each in two
record layouts over the same rows: a classification set (the judge
classifier's, `spec.IMAGE_CLS`) and a text-to-image set whose one caption
per image is its class's prompt (`spec.RETRIEVAL` records with `label`;
as retrieval pairs, `<name>_prompts`, the judge dual encoder's data):

* **CIFAR-10** (`cifar-10-python.tar.gz`): 50,000 train and 10,000 test
  32x32 images, 10 classes; the prompt is the class name (SalUn's
  class-conditional DDPM forgets one class: `deletion.strategy =
  "class"`). Train rows in the order Hugging Face's `cifar10` loader
  reads them, which MU-Bench's index file `cifar10.txt` counts: the
  archive's member order of the five `data_batch_*` pickles (not their
  numbers' order), each pickle's rows in order.
* **Tiny ImageNet** (`tiny-imagenet-200.zip`): 100,000 train images (500
  per class, 200 WordNet classes) and the 10,000 labelled validation images
  as the test split, 64x64; the prompt is the class's first WordNet name
  (`words.txt`). MU-Bench's text-to-image task (deletion by its uniform
  ratios).

Images are kept as uint8 arrays (no TensorFlow to encode them)."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from mmul_jax import errors
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.downloaded import unimodal_real_tfds

CIFAR10_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                  "frog", "horse", "ship", "truck")

_CIFAR10_INSTRUCTIONS = """\
Download CIFAR-10's python version into the manual directory
(data.manual_dir), unchanged:
  https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz
  -> <manual_dir>/cifar-10-python.tar.gz
"""

_TINY_INSTRUCTIONS = """\
Download Tiny ImageNet into the manual directory (data.manual_dir),
unchanged (not extracted):
  http://cs231n.stanford.edu/tiny-imagenet-200.zip
  -> <manual_dir>/tiny-imagenet-200.zip
"""

TEST_ID_OFFSET = unimodal_real_tfds.ExampleBuilder.TEST_ID_OFFSET


def cifar10_rows(path: str, split: str, instructions: str):
  """`(image (32, 32, 3) uint8, label)` of a split: its pickles in the
  archive's member order (as Hugging Face's loader iterates it)."""
  wanted = ({f"data_batch_{k}" for k in range(1, 6)} if split == "train"
            else {"test_batch"})
  with unimodal_real_tfds.open_tar(path, instructions) as tar:
    names = [m.name.rpartition("/")[2] for m in tar.getmembers()
             if m.name.startswith("cifar-10-batches-py/")]
    order = [n for n in names if n in wanted]
    if set(order) != wanted:
      raise errors.DataError(
          f"{path} lacks cifar-10-batches-py/"
          f"{sorted(wanted - set(order))[0]}; download it again.\n"
          f"{instructions}")
    for name in order:
      try:
        data = pickle.load(tar.extractfile(f"cifar-10-batches-py/{name}"),
                           encoding="bytes")
        images = np.asarray(data[b"data"], np.uint8).reshape(-1, 3, 32, 32)
        labels = data[b"labels"]
      except (KeyError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise errors.DataError(
            f"{path} lacks a readable cifar-10-batches-py/{name} ({e}); "
            f"download it again.\n{instructions}") from None
      for image, label in zip(images.transpose(0, 2, 3, 1), labels):
        yield image, int(label)


def _open_zip(path: str, instructions: str) -> zipfile.ZipFile:
  try:
    return zipfile.ZipFile(path)
  except (zipfile.BadZipFile, OSError) as e:
    raise errors.DataError(f"{path} is not a readable zip archive ({e}); "
                           f"download it again.\n{instructions}") from None


def _read(z: zipfile.ZipFile, name: str, path: str,
          instructions: str) -> bytes:
  try:
    return z.read(name)
  except KeyError:
    raise errors.DataError(f"{path} lacks {name}; download it again.\n"
                           f"{instructions}") from None


def tiny_imagenet_classes(path: str, instructions: str
                          ) -> tuple[list[str], list[str]]:
  """`(wnids, names)`: the 200 classes in `wnids.txt`'s order (the label
  order) and each one's first WordNet name."""
  root = "tiny-imagenet-200/"
  with _open_zip(path, instructions) as z:
    wnids = _read(z, root + "wnids.txt", path, instructions).decode(
        ).split()
    words = {}
    for line in _read(z, root + "words.txt", path, instructions).decode(
        "utf-8").splitlines():
      wnid, _, names = line.partition("\t")
      words[wnid] = names.split(",")[0].strip()
  missing = [w for w in wnids if w not in words]
  if missing or not wnids:
    raise errors.DataError(f"{path}: words.txt names no class for "
                           f"{missing[:3] or 'any wnid'}; download it "
                           f"again.\n{instructions}")
  return wnids, [words[w] for w in wnids]


def tiny_imagenet_rows(path: str, split: str, instructions: str):
  """`(image (64, 64, 3) uint8, label)` of a split: train in `wnids.txt`'s
  class order, each class's images by file name; test: the validation
  images in `val_annotations.txt`'s order."""
  wnids, _ = tiny_imagenet_classes(path, instructions)
  label = {w: k for k, w in enumerate(wnids)}
  root = "tiny-imagenet-200/"
  with _open_zip(path, instructions) as z:
    if split == "train":
      names = set(z.namelist())
      members = []
      for w in wnids:
        prefix = f"{root}train/{w}/images/"
        members += [(m, label[w]) for m in sorted(
            n for n in names if n.startswith(prefix)
            and n.lower().endswith(".jpeg"))]
    else:
      members = []
      for line in _read(z, root + "val/val_annotations.txt", path,
                        instructions).decode("utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1] in label:
          members.append((f"{root}val/images/{parts[0]}", label[parts[1]]))
    for name, k in members:
      try:
        image = Image.open(io.BytesIO(_read(z, name, path, instructions)))
        yield np.asarray(image.convert("RGB"), np.uint8), k
      except OSError as e:
        raise errors.DataError(f"{path}: {name} is not a readable image "
                               f"({e}); download it again.\n"
                               f"{instructions}") from None


class _Release:
  """One release's files: `ARCHIVE`, its instructions, its rows, classes
  and image side."""

  ARCHIVE = ""
  MANUAL_DOWNLOAD_INSTRUCTIONS = ""
  SIZE = 0

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    return [os.path.join(manual_dir, cls.ARCHIVE)]

  def _rows(self, path: str, split: str):
    raise NotImplementedError

  def _class_names(self, path: str) -> list[str]:
    raise NotImplementedError

  def _path(self, dl_manager) -> str:
    manual_dir = os.fspath(dl_manager.manual_dir)
    manual_tfds.check_manual_files(type(self), manual_dir)
    return os.path.join(manual_dir, self.ARCHIVE)


class _Cifar10(_Release):
  ARCHIVE = "cifar-10-python.tar.gz"
  MANUAL_DOWNLOAD_INSTRUCTIONS = _CIFAR10_INSTRUCTIONS
  SIZE = 32

  def _rows(self, path, split):
    return cifar10_rows(path, split, self.MANUAL_DOWNLOAD_INSTRUCTIONS)

  def _class_names(self, path):
    return list(CIFAR10_LABELS)


class _TinyImageNet(_Release):
  ARCHIVE = "tiny-imagenet-200.zip"
  MANUAL_DOWNLOAD_INSTRUCTIONS = _TINY_INSTRUCTIONS
  SIZE = 64

  def _rows(self, path, split):
    return tiny_imagenet_rows(path, split, self.MANUAL_DOWNLOAD_INSTRUCTIONS)

  def _class_names(self, path):
    return tiny_imagenet_classes(path, self.MANUAL_DOWNLOAD_INSTRUCTIONS)[1]


class _Classes(unimodal_real_tfds.ExampleBuilder, skip_registration=True):
  """The classification layout (the judge classifier's data)."""

  INPUT = "image"

  def _input_feature(self):
    return tfds.features.Tensor(shape=(self.SIZE, self.SIZE, 3),
                                dtype=np.uint8)

  def _split_generators(self, dl_manager):
    path = self._path(dl_manager)
    return {s: self._generate_examples(path, s) for s in ("train", "test")}

  def _generate_examples(self, path: str, split: str):
    yield from self._records(split, ((x, k, {})
                                     for x, k in self._rows(path, split)))


class _Prompts(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """The text-to-image layout: each image with its class's prompt, its
  `label` and `row` (the classification layout's row and id)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(self.SIZE, self.SIZE, 3),
                                          dtype=np.uint8),
            "image_id": tfds.features.Scalar(dtype=np.int64),
            "captions": tfds.features.Sequence(tfds.features.Text(),
                                               length=1),
            "label": tfds.features.Scalar(dtype=np.int64),
            "row": tfds.features.Scalar(dtype=np.int64),
        }), supervised_keys=None)

  def _split_generators(self, dl_manager):
    path = self._path(dl_manager)
    names = self._class_names(path)
    return {s: self._generate_examples(path, s, names)
            for s in ("train", "test")}

  def _generate_examples(self, path: str, split: str, names: list[str]):
    offset = TEST_ID_OFFSET if split != "train" else 0
    for row, (image, k) in enumerate(self._rows(path, split)):
      yield row, {"image": image, "image_id": offset + row,
                  "captions": [names[k]], "label": k, "row": row}


class Cifar10(_Cifar10, _Classes):
  """CIFAR-10 for classification (the judge classifier)."""
  LABELS = CIFAR10_LABELS


class Cifar10Prompts(_Cifar10, _Prompts):
  """CIFAR-10's images under their class name."""


class TinyImageNet(_TinyImageNet, _Classes):
  """Tiny ImageNet for classification (labels by wnid order)."""
  LABELS = tuple(f"class{k}" for k in range(200))


class TinyImageNetPrompts(_TinyImageNet, _Prompts):
  """Tiny ImageNet's images under their class's first WordNet name."""


_T2I = dict(features=spec.RETRIEVAL | {"classes"}, task="text_to_image",
            check=spec.check_class_prompts)

DATASETS = {
    "cifar10": spec.DatasetSpec(**spec.IMAGE_CLS, **spec.REAL,
                                labels=CIFAR10_LABELS, manual=Cifar10),
    "cifar10_t2i": spec.DatasetSpec(**_T2I, manual=Cifar10Prompts,
                                    judge_classifier="cifar10",
                                    judge_encoder="cifar10_prompts"),
    # The prompt layout as retrieval pairs: the judge dual encoder's data.
    "cifar10_prompts": spec.DatasetSpec(features=spec.RETRIEVAL,
                                        manual=Cifar10Prompts),
    "tiny_imagenet": spec.DatasetSpec(**spec.IMAGE_CLS, **spec.REAL,
                                      labels=TinyImageNet.LABELS,
                                      manual=TinyImageNet),
    "tiny_imagenet_t2i": spec.DatasetSpec(
        **_T2I, manual=TinyImageNetPrompts, judge_classifier="tiny_imagenet",
        judge_encoder="tiny_imagenet_prompts"),
    "tiny_imagenet_prompts": spec.DatasetSpec(features=spec.RETRIEVAL,
                                              manual=TinyImageNetPrompts),
}

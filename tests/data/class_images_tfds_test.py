"""The CIFAR-10 and Tiny ImageNet builders (class-level text-to-image and
their judge classifiers) on fake copies of the official archives
(tests/fixtures/, made by make_fake_datasets.py): both layouts hold the
same rows, labels and ids; prompts are the class names; a missing or
broken archive stops with the download instructions; every unit of one
class is a deletion set."""

import os
import pickle
import shutil
import tarfile

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.core import deletion_policy
from mmul_jax.data.core import pipeline
from mmul_jax.data.downloaded import class_images_tfds as ci
from mmul_jax.data.downloaded import manual_tfds

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")


def _records(builder, split):
  source = builder.as_data_source(split)
  return sorted((source[i] for i in range(len(source))),
                key=lambda r: int(r["row"]))


def test_cifar10_layouts_share_rows_in_the_archive_order(tmp_path):
  manual = os.path.join(FIXTURES, "cifar10")
  classes = manual_tfds.prepare(ci.Cifar10, str(tmp_path), manual)
  prompts = manual_tfds.prepare(ci.Cifar10Prompts, str(tmp_path), manual)
  with tarfile.open(os.path.join(manual, ci._Cifar10.ARCHIVE)) as tar:
    # Hugging Face's loader reads the batches in the archive's order.
    members = [m.name for m in tar.getmembers() if "data_batch" in m.name]
    assert members != sorted(members)  # the fake follows the real order
    batches = [pickle.load(tar.extractfile(m), encoding="bytes")
               for m in members]
  want_images = np.concatenate([b[b"data"] for b in batches]).reshape(
      -1, 3, 32, 32).transpose(0, 2, 3, 1)
  want_labels = sum((b[b"labels"] for b in batches), [])
  a, b = _records(classes, "train"), _records(prompts, "train")
  assert len(a) == len(b) == 20
  for row, (x, y) in enumerate(zip(a, b)):
    np.testing.assert_array_equal(x["image"], want_images[row])
    np.testing.assert_array_equal(y["image"], want_images[row])
    assert x["label"] == y["label"] == want_labels[row]
    assert x["example_id"] == y["image_id"] == row
    assert y["captions"][0].decode() == ci.CIFAR10_LABELS[want_labels[row]]
  test = _records(prompts, "test")
  assert len(test) == 6 and test[0]["image_id"] == ci.TEST_ID_OFFSET


def test_tiny_imagenet_reads_wnids_order_names_and_validation(tmp_path):
  manual = os.path.join(FIXTURES, "tiny_imagenet")
  path = os.path.join(manual, ci._TinyImageNet.ARCHIVE)
  wnids, names = ci.tiny_imagenet_classes(path, "")
  # wnids.txt's order is the label order; the first WordNet name.
  assert wnids == ["n02124075", "n01629819", "n01443537"]
  assert names == ["Egyptian cat", "European fire salamander", "goldfish"]
  classes = manual_tfds.prepare(ci.TinyImageNet, str(tmp_path), manual)
  prompts = manual_tfds.prepare(ci.TinyImageNetPrompts, str(tmp_path),
                                manual)
  train = _records(prompts, "train")
  assert [int(r["label"]) for r in train] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
  assert train[0]["image"].shape == (64, 64, 3)
  assert {r["captions"][0].decode() for r in train} == set(names)
  for x, y in zip(_records(classes, "train"), train):
    np.testing.assert_array_equal(x["image"], y["image"])
    assert x["label"] == y["label"]
  # The labelled validation images are the test split, in the file's order.
  test = _records(prompts, "test")
  assert [names[int(r["label"])] for r in test] == [
      "goldfish", "European fire salamander", "Egyptian cat", "goldfish"]


@pytest.mark.parametrize("builder", [ci.Cifar10Prompts, ci.TinyImageNet])
def test_missing_or_broken_archives_stop_with_instructions(tmp_path,
                                                           builder):
  with pytest.raises(errors.DataError, match="Download"):
    manual_tfds.prepare(builder, str(tmp_path / "data"), str(tmp_path))
  (tmp_path / builder.ARCHIVE).write_bytes(b"not an archive")
  with pytest.raises(errors.DataError, match="download it again"):
    manual_tfds.prepare(builder, str(tmp_path / "data"), str(tmp_path))


def test_class_deletion_forgets_every_unit_of_the_class(tmp_path):
  manual = os.path.join(FIXTURES, "cifar10")
  builder = manual_tfds.prepare(ci.Cifar10Prompts, str(tmp_path), manual)
  train = pipeline.index_split(builder.as_data_source("train"))
  labels = pipeline.read_column(train.source, "label")
  k = int(labels[0])
  d = _deletion(strategy="class", skew_class=k)
  df = deletion_policy.deletion_set(d, train, "cifar10_t2i",
                                    str(tmp_path / "deletion"))
  want = np.sort(train.image_ids[labels == k])
  np.testing.assert_array_equal(np.sort(df.forget_ids), want)
  assert df.ratio == pytest.approx(100.0 * len(want) / len(labels))
  assert df.source == f"all_class{k}"
  absent = sorted(set(range(10)) - set(labels.tolist()))
  if absent:
    with pytest.raises(errors.ConfigError, match="0 units of that class"):
      deletion_policy.deletion_set(
          _deletion(strategy="class", skew_class=absent[0]), train,
          "cifar10_t2i", str(tmp_path / "deletion"))
  shutil.rmtree(tmp_path / "deletion")


def _deletion(**kw):
  import ml_collections
  from mmul_jax import config_schema
  d = config_schema.default_config().deletion
  d.update(kw)
  return ml_collections.ConfigDict(d)

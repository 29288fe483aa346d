"""The CIFAR-100, IMDB and DDI-2013 builders on fake copies of the official
files (tests/fixtures/, made by make_fake_datasets.py), and MU-Bench's
index files mapped through each record's row."""

import os
import pickle
import shutil
import tarfile

import ml_collections
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.data import datasets
from mmul_jax.data.core import deletion_policy
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.core import pipeline
from mmul_jax.data.downloaded import unimodal_real_tfds as real

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")


def _by_row(source):
  return {int(source[i]["row"]): source[i] for i in range(len(source))}


def test_cifar100_reads_the_python_pickles_channels_last(tmp_path):
  manual = os.path.join(FIXTURES, "cifar100")
  builder = manual_tfds.prepare(real.Cifar100, str(tmp_path), manual)
  with tarfile.open(os.path.join(manual, real.Cifar100.ARCHIVE)) as tar:
    want = pickle.load(tar.extractfile("cifar-100-python/train"),
                       encoding="bytes")
  train = _by_row(builder.as_data_source("train"))
  assert sorted(train) == list(range(24))
  for row, rec in train.items():
    image = np.asarray(want[b"data"][row]).reshape(3, 32, 32).transpose(
        1, 2, 0)
    np.testing.assert_array_equal(rec["image"], image)
    assert rec["label"] == want[b"fine_labels"][row]
    assert rec["coarse_label"] == want[b"coarse_labels"][row]
    assert rec["example_id"] == row
  test = builder.as_data_source("test")
  assert len(test) == 8
  assert min(int(test[i]["example_id"]) for i in range(8)) == (
      real.Cifar100.TEST_ID_OFFSET)
  assert len(real.CIFAR100_LABELS) == 100


def test_imdb_rows_follow_the_archive_order(tmp_path):
  manual = os.path.join(FIXTURES, "imdb")
  builder = manual_tfds.prepare(real.Imdb, str(tmp_path), manual)
  with tarfile.open(os.path.join(manual, real.Imdb.ARCHIVE)) as tar:
    order = [m.name for m in tar
             if m.name.startswith(("aclImdb/train/pos/",
                                   "aclImdb/train/neg/"))]
  train = _by_row(builder.as_data_source("train"))
  assert [train[r]["path"].decode() for r in range(len(order))] == order
  for rec in train.values():
    label = real.Imdb.LABELS[rec["label"]]
    assert f"/{label}/" in rec["path"].decode()
    assert ("great" in rec["text"].decode()) == (label == "pos")
    assert "Café" in rec["text"].decode()  # UTF-8 kept
  assert len(builder.as_data_source("test")) == 4  # unsup left out


def test_ddi2013_keeps_mubench_sentences_and_reads_the_labels(tmp_path):
  manual = os.path.join(FIXTURES, "ddi2013")
  builder = manual_tfds.prepare(real.Ddi2013, str(tmp_path), manual)
  sources = builder.as_data_source()
  assert {s: len(sources[s]) for s in ("train", "validation", "test")} == {
      "train": 20, "validation": 5, "test": 6}  # headers skipped
  with open(os.path.join(manual, "train.tsv")) as f:
    lines = f.read().splitlines()
  train = _by_row(sources["train"])
  for row, rec in train.items():
    text = rec["text"].decode()
    assert text == lines[row].split("\t")[1]  # MU-Bench's input, as is
    assert text.count("@DRUG$") == 2 and "<e1>" not in text
    assert real.Ddi2013.LABELS[rec["label"]] == lines[row].split(
        "\t")[-1].removeprefix("DDI-")


def test_entity_markers_and_labels_of_other_formats():
  tagged = " <e1>aspirin</e1> with <e2>x</e2>.\n"
  assert real.check_entities(tagged, "w") == tagged.strip()
  for bad in ("only @DRUG$ here", "<e1>aspirin</e1> alone"):
    with pytest.raises(errors.DataError,
                       match="f, line 3: .*fewer than two drugs"):
      real.check_entities(bad, "f, line 3")
  assert real.ddi_label("effect", "w") == "effect"
  with pytest.raises(errors.DataError, match="unknown relation 'DDI-x'"):
    real.ddi_label("DDI-x", "f, line 2")


@pytest.mark.parametrize("name", ["cifar100", "imdb", "ddi2013"])
def test_missing_files_stop_with_the_instructions(tmp_path, name):
  d = ml_collections.ConfigDict({"name": name, "data_dir": str(tmp_path),
                                 "manual_dir": str(tmp_path / "none")})
  with pytest.raises(errors.DataError, match="Download"):
    datasets.check_available(d)


def test_a_corrupt_archive_is_one_clear_error(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / real.Imdb.ARCHIVE).write_bytes(b"not a tar archive")
  with pytest.raises(errors.DataError, match="not a readable tar archive"):
    manual_tfds.prepare(real.Imdb, str(tmp_path / "tfds"), str(manual))


def test_mubench_rows_map_through_each_records_row(tmp_path):
  manual = os.path.join(FIXTURES, "cifar100")
  builder = manual_tfds.prepare(real.Cifar100, str(tmp_path / "tfds"),
                                manual)
  spec = datasets.DATASETS["cifar100"]
  train, _ = datasets.index_splits(builder, spec)
  listed = [5, 17, 2, 9, 0, 11, 23, 3, 8, 20]  # the 10% file's rows
  index = tmp_path / "cifar100.txt"
  index.write_text("\n".join(map(str, listed)) + "\n")
  d = ml_collections.ConfigDict({"ratio": 5.0, "count": 0,
                                 "mubench_file": str(index),
                                 "strategy": "uniform", "seed": 0})
  df = deletion_policy.deletion_set(d, train, "cifar100", str(tmp_path),
                                    example_rows=spec.example_rows)
  # 5% takes the first half of the 10% file; row r is example id r.
  assert sorted(df.forget_ids.tolist()) == sorted(listed[:5])
  assert df.mapping["units"] == 5 and df.mapping["example_rows"] == 24
  # TFDS does not keep the file's order: records are not rows.
  rows = pipeline.read_column(train.source, "row")
  assert not np.array_equal(rows, np.arange(len(rows)))


def test_rotten_tomatoes_is_imdbs_out_of_distribution_set(tmp_path,
                                                          tiny_config):
  manual = os.path.join(FIXTURES, "imdb")
  builder = manual_tfds.prepare(real.RottenTomatoes, str(tmp_path / "rt"),
                                manual)
  test = builder.as_data_source("test")
  assert list(builder.info.splits) == ["test"]
  texts = sorted((real.RottenTomatoes.LABELS[test[i]["label"]],
                  test[i]["text"].decode()) for i in range(len(test)))
  assert len(texts) == 6 and texts[0] == ("neg", "a dull mess , take 0 é .")
  # A run on IMDB evaluates it beside test ("ood"), and its files are
  # checked before any compute like IMDB's own.
  c = tiny_config.copy_and_resolve_references()
  c.data.update(name="imdb", manual_dir=manual,
                data_dir=str(tmp_path / "tfds"))
  c.deletion.count = 4
  c.unlearn.update(df_batch_size=2, dr_batch_size=4)
  c.train.batch_size = 4  # at most the fixture's 8 retained reviews
  c.eval.auc_num_samples = 1
  c.method.name = "finetune"
  exp = experiment.setup(c, str(tmp_path / "run"))
  sets = exp.eval_sets
  assert list(sets) == ["test", "df", "dr", "ood"]
  assert len(sets["ood"].labels) == 6 and sets["ood"].text is None
  bare = tmp_path / "bare"
  shutil.copytree(manual, bare)
  os.remove(bare / "rt-polaritydata.tar.gz")
  d = ml_collections.ConfigDict({"name": "imdb",
                                 "data_dir": str(tmp_path / "other"),
                                 "manual_dir": str(bare)})
  with pytest.raises(errors.DataError, match="rt-polaritydata.tar.gz"):
    datasets.check_available(d)

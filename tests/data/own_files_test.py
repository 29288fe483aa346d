"""The user's own tables (`data.name = "files"`): each format reads to the
same rows, every kind of bad row is one line naming the file and the row,
refused by default and skipped and counted with `data.skip_bad_rows`, and a
refused build writes nothing."""

import json
import os
import re

import ml_collections
import numpy as np
import own_files
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.data import datasets
from mmul_jax.data import summary
from mmul_jax.data.core import deletion
from mmul_jax.data.files import files_tfds
from mmul_jax.data.files import tables
from mmul_jax.data.files import units


@pytest.mark.parametrize("fmt", sorted(own_files.WRITERS))
def test_every_format_reads_the_same_rows(tmp_path, fmt):
  rows = own_files.rows("text_classification", "train", 5, str(tmp_path))
  write, ext = own_files.WRITERS[fmt]
  table = tables.read(write(str(tmp_path / f"t{ext}"), rows))
  assert table.columns == ("text", "label", "id")
  assert table.rows == rows


def test_parquet_shards_and_saved_splits(tmp_path):
  rows = own_files.rows("text_classification", "train", 6, str(tmp_path))
  (tmp_path / "data").mkdir()
  own_files.write_parquet(str(tmp_path / "data" / "train-00000.parquet"),
                          rows[:4])
  own_files.write_parquet(str(tmp_path / "data" / "train-00001.parquet"),
                          rows[4:])
  assert tables.read(str(tmp_path / "data")).rows == rows  # shard order
  (tmp_path / "dd" / "train").mkdir(parents=True)
  (tmp_path / "dd" / "dataset_dict.json").write_text('{"splits": ["train"]}')
  with pytest.raises(errors.DataError, match="several splits .*dd/train"):
    tables.read(str(tmp_path / "dd"))
  (tmp_path / "t.tsv").write_text("a\tb\n")
  with pytest.raises(errors.DataError, match="unknown manifest format"):
    tables.read(str(tmp_path / "t.tsv"))


HF_SAVED = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                        "fixtures", "hf_saved")


def test_what_the_datasets_library_saves_builds(tmp_path):
  """tests/fixtures/hf_saved was written by `datasets`' save_to_disk
  (make_hf_saved.py): Image structs, ClassLabel ints, a DatasetDict."""
  with pytest.raises(errors.DataError, match=r"holds several splits \(test, "
                     r"train\); .* e.g. .*hf_saved/train"):
    tables.read(HF_SAVED)
  table = tables.read(os.path.join(HF_SAVED, "train"))
  assert table.columns == ("image", "label", "id")
  assert set(table.rows[0]["image"]) == {"bytes", "path"}
  c = config_schema.default_config()
  c.update_from_flattened_dict({
      "data.name": "files", "data.files.task": "image_classification",
      "data.files.train": os.path.join(HF_SAVED, "train"),
      "data.files.test": os.path.join(HF_SAVED, "test"),
      "data.files.classes": ",".join(own_files.CLASSES),
      "data.files.id_column": "id", "data.data_dir": str(tmp_path),
      "method.name": "neggrad"})
  config_schema.validate(c)
  source = datasets.prepare(c.data).as_data_source("train")
  record = min((source[i] for i in range(len(source))),
               key=lambda r: r["example_id"])
  assert (record["key"].decode(), int(record["label"])) == ("u0", 0)
  image = np.asarray(record["image"], np.float32)
  assert image.shape == (24, 24, 3) and image[..., 0].mean() > 150  # red


def _settings(**kw):
  return units.Settings(**{"task": "image_classification", "train": "",
                           "test": "", "classes": ("red", "green", "blue"),
                           **kw})


# Each bad-row kind the issue lists -> (rows, settings, the message).
def _bad_rows(tmp_path):
  png = own_files.png_bytes("red", 0)
  (tmp_path / "broken.png").write_bytes(png[:40])
  ok = {"image": png, "label": "red"}
  image = _settings()
  return {
      "missing file": ([{"image": "gone.png", "label": "red"}], image,
                       r"row 0: image file .*gone.png is missing"),
      "undecodable file": ([{"image": "broken.png", "label": "red"}], image,
                           r"row 0: image .*broken.png cannot be decoded \(not an image "),
      "empty caption": ([{"image": "a.png", "caption": "  "}],
                        _settings(task="retrieval"),
                        r"row 0: the text is empty"),
      "duplicated id": ([{**ok, "id": "x"}, {**ok, "id": "x"}],
                        _settings(id_column="id"),
                        r"row 1: id 'x' repeats row 0"),
      "id naming two inputs": (
          [{"image": png, "caption": "a", "id": "x"},
           {"image": own_files.png_bytes("blue", 1), "caption": "b",
            "id": "x"}], _settings(task="retrieval", id_column="id"),
          r"row 1: id 'x' names another input than row 0 did"),
      "label outside the classes": ([{**ok, "label": "pink"}], image,
                                    r"row 0: label 'pink' is not one of the "
                                    r"declared classes \(data.files.classes:"
                                    r" red, green, blue\)"),
      "label index out of range": ([{**ok, "label": 7}], image,
                                   r"row 0: label 7 is not one of"),
      "mixed types": ([ok, {**ok, "label": 2}], image,
                      r"row 1: column 'label' holds int '2' where row 0 "
                      r"holds str"),
      "empty value": ([{**ok, "label": None}], image,
                      r"row 0: column 'label' is empty"),
      "invalid SMILES": ([{"smiles": "C1CC(", "description": "d"}],
                         _settings(task="molecule_text"),
                         r"row 0: invalid SMILES 'C1CC\('"),
      "wrong audio format": (
          [{"audio": {"bytes": own_files.wav_bytes(0, 0, rate=8000)},
            "label": 0}], _settings(task="audio_classification"),
          r"row 0: audio \(bytes\): expected 16-bit mono 16000 Hz PCM, got "
          r"16-bit, 1 channel\(s\), 8000 Hz"),
  }


CASES = ("missing file", "undecodable file", "empty caption",
         "duplicated id", "id naming two inputs", "label outside the classes",
         "label index out of range", "mixed types", "empty value",
         "invalid SMILES", "wrong audio format")


@pytest.mark.parametrize("case", CASES)
def test_each_bad_row_is_one_line_naming_file_and_row(tmp_path, case):
  rows, settings, message = _bad_rows(tmp_path)[case]
  table = tables.Table(str(tmp_path / "t.jsonl"), tuple(rows[0]), rows)
  checked = units.check(table, settings)
  assert len(checked.problems) == 1, checked.problems
  line = checked.problems[0]
  assert "\n" not in line and line.startswith(f"{tmp_path / 't.jsonl'}, ")
  assert re.search(message, line), line


def test_a_missing_column_and_an_unparsable_line(tmp_path):
  path = tmp_path / "t.jsonl"
  path.write_text('{"image": "a.png", "label": "red"}\n{not json\n[1]\n')
  table = tables.read(str(path))
  with pytest.raises(errors.DataError, match=r"t.jsonl has no column 'img' "
                     r"\(data.files.input_column\); its columns: image, "
                     "label"):
    units.check(table, _settings(input_column="img"))
  problems = units.check(table, _settings(), decode_inputs=False).problems
  assert problems == [f"{path}, row 1: line 2 is not JSON (Expecting "
                      "property name enclosed in double quotes)",
                      f"{path}, row 2: line 3 is not a JSON object"]


def _files_config(tmp_path, kind="image_classification", fmt="jsonl",
                  **changes):
  c = config_schema.default_config()
  c.update_from_flattened_dict({
      **own_files.make(str(tmp_path / "own"), kind, fmt, 9, 3),
      "data.files.classes": "red,green,blue", "data.files.id_column": "id",
      "data.data_dir": str(tmp_path / "tfds"), **changes})
  return c


def test_a_refused_build_writes_nothing_and_skipping_counts(tmp_path,
                                                            caplog):
  c = _files_config(tmp_path)
  train = c.data.files.train
  with open(train, "a") as f:  # two bad rows after nine good ones
    f.write(json.dumps({"image": "gone.png", "label": 0, "id": "g"})
            + "\n")
    f.write(json.dumps({"image": None, "label": 0, "id": "n"}) + "\n")
  with pytest.raises(errors.DataError, match=r"train.jsonl, row 9: image "
                     r"file .*gone.png is missing \(2 bad rows in all\)\. "
                     "Fix the row"):
    datasets.prepare(c.data)
  built = tmp_path / "tfds" / "own_files"
  assert not built.exists() or not any(
      p.name == "dataset_info.json" for p in built.rglob("*"))
  assert len(summary.problems(c.data)) == 2
  c.data.skip_bad_rows = True
  builder = datasets.prepare(c.data)
  assert "skipped 2 of 11 rows" in caplog.text
  train_source = builder.as_data_source("train")
  keys = sorted(train_source[i]["key"].decode()
                for i in range(len(train_source)))
  assert keys == sorted(f"train-{i}" for i in range(9))


def test_config_checks_before_any_work(tmp_path):
  c = _files_config(tmp_path)
  c.data.files.classes = ""
  with pytest.raises(errors.ConfigError, match="needs data.files.classes"):
    config_schema.validate(c)
  c.data.files.classes = "red,red"
  with pytest.raises(errors.ConfigError, match="repeats a name"):
    config_schema.validate(c)
  c.data.files.classes = "red,green,blue"
  c.data.files.test = str(tmp_path / "none.csv")
  with pytest.raises(errors.ConfigError,
                     match="data.files.test = .*none.csv does not exist"):
    config_schema.validate(c)
  c.data.files.test = ""
  with pytest.raises(errors.ConfigError, match="needs data.files.test"):
    config_schema.validate(c)


def test_records_keep_keys_rows_and_the_class_layout(tmp_path):
  c = _files_config(tmp_path, "retrieval", "csv",
                    **{"data.files.classes": "", "data.files.id_column": ""})
  builder = datasets.prepare(c.data)
  source = builder.as_data_source("train")
  records = sorted((source[i] for i in range(len(source))),
                   key=lambda r: r["image_id"])
  assert [r["image_id"] for r in records] == list(range(9))
  first = records[0]
  assert first["key"].decode() == "images/train_000.png"  # the unit's image
  assert list(first["rows"]) == [0, 1]
  assert [t.decode() for t in first["captions"]] == [
      "a red square number 0 view 0", "a red square number 0 view 1"]
  assert np.asarray(first["image"]).shape == (24, 24, 3)
  test = builder.as_data_source("test")
  assert min(test[i]["image_id"] for i in range(len(test))) == (
      files_tfds.TEST_ID_OFFSET)
  # An edited table is another build; the same table is the same one.
  name = builder.builder_config.name
  assert datasets.prepare(c.data).builder_config.name == name
  with open(c.data.files.train, "a") as f:
    f.write("images/train_000.png,train-0,one more caption\n")
  assert datasets.prepare(c.data).builder_config.name != name


def test_ids_file_names_df_by_the_users_ids(tmp_path):
  keys = [f"u{i}" for i in range(6)]
  path = tmp_path / "forget.txt"
  path.write_text("u4\n\nu1\n")
  assert deletion.read_ids_file(str(path), keys).tolist() == [4, 1]
  path.write_text("u4\nzz\n")
  with pytest.raises(errors.DataError, match=r"forget.txt, line 2: id 'zz' "
                     "is not in the train split"):
    deletion.read_ids_file(str(path), keys)
  path.write_text("u4\nu4\n")
  with pytest.raises(errors.DataError, match="line 2: id 'u4' is listed "
                     "again"):
    deletion.read_ids_file(str(path), keys)
  d = ml_collections.ConfigDict(config_schema.default_config().to_dict())
  d.deletion.ids_file, d.deletion.count = str(path), 3
  with pytest.raises(errors.ConfigError, match="ids_file names Df itself"):
    config_schema.validate(d)

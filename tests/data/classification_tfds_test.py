"""The NLVR2 and SNLI-VE builders on fake copies of the files a user
downloads (tests/fixtures/, made by make_fake_datasets.py)."""

import collections
import json
import os
import shutil

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.data.downloaded import classification_tfds
from mmul_jax.data.downloaded import manual_tfds

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")


def _rows(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def test_nlvr2_groups_sentences_by_image_pair(tmp_path):
  manual = os.path.join(FIXTURES, "nlvr2")
  builder = manual_tfds.prepare(classification_tfds.Nlvr2, str(tmp_path),
                                manual)
  sources = builder.as_data_source()
  for split, file in classification_tfds.Nlvr2.SPLIT_FILES.items():
    want = collections.defaultdict(list)
    want_rows = collections.defaultdict(list)
    for index, row in enumerate(_rows(os.path.join(manual, file))):
      want[row["identifier"].rsplit("-", 1)[0]].append(
          (row["sentence"], row["label"]))
      want_rows[row["identifier"].rsplit("-", 1)[0]].append(index)
    source = sources[split]
    assert len(source) == len(want)
    ids = set()
    for i in range(len(source)):
      rec = source[i]
      pair = rec["pair"].decode()
      got = [(s.decode(), classification_tfds.NLVR2_LABELS[label])
             for s, label in zip(rec["sentences"], rec["labels"])]
      assert got == want[pair]
      # Each statement's row in the file: what MU-Bench's index lists.
      assert [int(r) for r in rec["rows"]] == want_rows[pair]
      for key in ("image0", "image1"):
        assert rec[key].dtype == np.uint8 and rec[key].shape == (20, 28, 3)
      assert not np.array_equal(rec["image0"], rec["image1"])
      _, set_id, pair_id = pair.split("-")
      assert rec["unit_id"] == int(set_id) * 1000 + int(pair_id)
      ids.add(int(rec["unit_id"]))
    assert len(ids) == len(source)  # the deletion unit is unique


def test_snli_ve_groups_hypotheses_by_premise_image(tmp_path):
  manual = os.path.join(FIXTURES, "snli_ve")
  builder = manual_tfds.prepare(classification_tfds.SnliVe, str(tmp_path),
                                manual)
  sources = builder.as_data_source()
  for split, file in classification_tfds.SnliVe.SPLIT_FILES.items():
    want = collections.defaultdict(list)
    for row in _rows(os.path.join(manual, file)):
      want[int(row["Flickr30K_ID"])].append(
          (row["sentence2"], row["gold_label"]))
    source = sources[split]
    assert len(source) == len(want)
    for i in range(len(source)):
      rec = source[i]
      got = [(s.decode(), classification_tfds.SNLI_VE_LABELS[label])
             for s, label in zip(rec["sentences"], rec["labels"])]
      assert got == want[int(rec["unit_id"])]
      assert rec["image"].shape == (24, 32, 3)


@pytest.mark.parametrize("builder_cls,name,victim", [
    (classification_tfds.Nlvr2, "nlvr2", "dev.json"),
    (classification_tfds.SnliVe, "snli_ve", "snli_ve_test.jsonl")])
def test_missing_files_are_named_with_instructions(tmp_path, builder_cls,
                                                   name, victim):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, name), manual)
  os.remove(manual / victim)
  with pytest.raises(errors.DataError, match=rf"{victim}(.|\n)*Download"):
    manual_tfds.prepare(builder_cls, str(tmp_path / "data"), str(manual))
  shutil.copy(os.path.join(FIXTURES, name, victim), manual / victim)
  image = sorted(p for p in manual.rglob("*") if p.suffix in (".png",
                                                              ".jpg"))[-1]
  image.unlink()
  with pytest.raises(errors.DataError, match=image.name):
    manual_tfds.prepare(builder_cls, str(tmp_path / "data"), str(manual))


def test_nlvr2_rejects_a_malformed_row(tmp_path):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, "nlvr2"), manual)
  with open(manual / "train.json", "a") as f:
    f.write(json.dumps({"identifier": "train-1-0-0", "label": "maybe",
                        "sentence": "x", "directory": 0}) + "\n")
  with pytest.raises(errors.DataError, match=r"train\.json line \d+"):
    manual_tfds.prepare(classification_tfds.Nlvr2, str(tmp_path / "data"),
                        str(manual))


def test_nlvr2_sentence_that_is_not_utf8_names_file_and_line(tmp_path):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, "nlvr2"), manual)
  with open(manual / "train.json", "ab") as f:
    f.write(b'{"identifier": "train-1-0-0", "sentence": "caf\xe9"}\n')
  line = len((manual / "train.json").read_bytes().splitlines())
  with pytest.raises(errors.DataError,
                     match=rf"train\.json, line {line}: byte 0xe9 .*not "
                     "UTF-8"):
    manual_tfds.prepare(classification_tfds.Nlvr2, str(tmp_path / "data"),
                        str(manual))
  (manual / "train.json").write_bytes(b'{"identifier": \n')
  with pytest.raises(errors.DataError, match=r"train\.json, line 1 is not "
                     "JSON"):
    manual_tfds.prepare(classification_tfds.Nlvr2, str(tmp_path / "data"),
                        str(manual))


def test_a_mubench_statement_file_deletes_the_pairs_of_its_statements(
    tmp_path, tiny_config):
  """MU-Bench's NLVR2 file lists statement rows of train.json; setup maps
  them onto the image pairs that hold them (here on the fake download)."""
  rows = _rows(os.path.join(FIXTURES, "nlvr2", "train.json"))
  listed = [4, 11, 0, 7]
  (tmp_path / "nlvr2.txt").write_text("".join(f"{r}\n" for r in listed))
  c = tiny_config.copy_and_resolve_references()
  c.data.name, c.data.data_dir = "nlvr2", str(tmp_path / "tfds")
  c.data.manual_dir = os.path.join(FIXTURES, "nlvr2")
  c.deletion.mubench_file = str(tmp_path / "nlvr2.txt")
  c.deletion.ratio = 10.0
  c.unlearn.df_batch_size, c.unlearn.dr_batch_size = 1, 2
  c.train.batch_size = 4  # at most the fixture's 4 retained pairs
  c.eval.auc_num_samples = 1
  exp = experiment.setup(c, str(tmp_path / "run"))
  pairs = [rows[r]["identifier"].rsplit("-", 1)[0] for r in listed]
  want = [int(p.split("-")[1]) * 1000 + int(p.split("-")[2]) for p in pairs]
  assert exp.deletion.forget_ids.tolist() == want
  held = sum(r["identifier"].rsplit("-", 1)[0] in pairs for r in rows)
  assert exp.deletion.mapping == {
      "example_rows": len(rows), "rows_listed": 4, "units": 4,
      "examples_deleted": held}

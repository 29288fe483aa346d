"""The COCO and Flickr30K (Karpathy splits) builders on fake copies of the
files a user downloads (tests/fixtures/, made by make_fake_datasets.py)."""

import json
import os
import shutil

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.downloaded import karpathy_tfds
from mmul_jax.data.downloaded import manual_tfds

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")
CASES = [(karpathy_tfds.CocoKarpathy, "coco"),
         (karpathy_tfds.Flickr30kKarpathy, "flickr30k")]


@pytest.mark.parametrize("builder_cls,name", CASES)
def test_builds_from_the_manual_files(tmp_path, builder_cls, name):
  manual = os.path.join(FIXTURES, f"{name}_karpathy")
  builder = manual_tfds.prepare(builder_cls, str(tmp_path), manual)
  with open(os.path.join(manual, f"dataset_{name}.json")) as f:
    entries = json.load(f)["images"]
  sources = builder.as_data_source()
  sizes = {k: len(v) for k, v in sources.items()}
  want = {"train": sum(e["split"] in ("train", "restval") for e in entries),
          "validation": sum(e["split"] == "val" for e in entries),
          "test": sum(e["split"] == "test" for e in entries)}
  assert sizes == want
  by_file = {e["filename"]: e for e in entries}
  for split, source in sources.items():
    for i in range(len(source)):
      rec = source[i]
      entry = by_file[rec["filename"].decode()]
      assert rec["image"].dtype == np.uint8 and rec["image"].shape == (
          24, 32, 3)
      assert [c.decode() for c in rec["captions"]] == [
          s["raw"] for s in entry["sentences"]]
      image_id = (entry["cocoid"] if name == "coco"
                  else int(entry["filename"][:-4]))
      assert rec["image_id"] == image_id
  # A second prepare reuses the files (no manual dir needed any more).
  manual_tfds.prepare(builder_cls, str(tmp_path), str(tmp_path / "none"))


@pytest.mark.parametrize("builder_cls,name", CASES)
def test_missing_files_are_named_with_instructions(tmp_path, builder_cls,
                                                   name):
  with pytest.raises(errors.DataError, match=rf"dataset_{name}\.json"
                     r"(.|\n)*caption_datasets\.zip"):
    manual_tfds.prepare(builder_cls, str(tmp_path / "data"),
                          str(tmp_path / "empty"))
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, f"{name}_karpathy"), manual)
  victim = sorted(manual.rglob("*.jpg"))[3]
  victim.unlink()
  with pytest.raises(errors.DataError, match=victim.name):
    manual_tfds.prepare(builder_cls, str(tmp_path / "data"), str(manual))


ROOT = os.path.dirname(os.path.dirname(FIXTURES))


def _script(*args, home, timeout=600, cwd=ROOT):
  import subprocess
  import sys
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", "unlearn.py"), *args],
      capture_output=True, text=True, timeout=timeout, cwd=str(cwd),
      env=dict(os.environ, PYTHONPATH=ROOT, HOME=str(home)))


@pytest.mark.parametrize("config,file,where", [
    ("mmul_coco", "dataset_coco.json", "caption_datasets.zip"),
    ("mmul_flickr30k", "dataset_flickr30k.json", "caption_datasets.zip"),
    ("mmul_chebi", "train.txt", "MolT5/tree/main/ChEBI-20_data"),
    ("cifar100", "cifar-100-python.tar.gz", "www.cs.toronto.edu"),
    # The other unimodal configs take the same path (slow suite).
    pytest.param("imdb", "aclImdb_v1.tar.gz", "ai.stanford.edu",
                 marks=pytest.mark.slow),
    pytest.param("ddi2013", "train.tsv", "BLURB", marks=pytest.mark.slow),
    pytest.param("speech_commands", "speech_commands_v0.01.tar.gz",
                 "download.tensorflow.org", marks=pytest.mark.slow),
    pytest.param("ucf101", "classInd.txt", "UCF101.rar",
                 marks=pytest.mark.slow)])
def test_real_config_without_data_prints_instructions(tmp_path, config,
                                                      file, where):
  # Run from tmp_path, where the default workdir (runs/<config name>,
  # relative to the working directory) and the default data_dir (under
  # HOME) would land.
  r = _script(f"--config={ROOT}/configs/{config}.py", home=tmp_path,
              timeout=60, cwd=tmp_path)
  # Before any compute: no phase started (no timing, which a loaded
  # machine breaks).
  assert "train original" not in r.stderr
  assert r.returncode == 2
  assert file in r.stderr and where in r.stderr
  assert not os.path.exists(tmp_path / "runs")  # nothing written
  tfds_dir = tmp_path / "tensorflow_datasets"
  assert not tfds_dir.exists() or not any(
      p.is_file() for p in tfds_dir.rglob("*")), sorted(tfds_dir.rglob("*"))


@pytest.mark.slow
def test_unlearn_script_on_the_fake_coco_files(tmp_path):
  r = _script("--config=configs/tiny.py", "--config.data.name=coco_karpathy",
              f"--config.data.manual_dir={FIXTURES}/coco_karpathy",
              f"--config.data.data_dir={tmp_path / 'tfds'}",
              "--config.deletion.ratio=20", f"--workdir={tmp_path / 'run'}",
              home=tmp_path)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["dataset"].startswith("coco_karpathy")
  original = results["models"]["original"]["metrics"]
  assert {"test/itc/r1_mean", "df/itc/r1_mean", "dr/itc/r1_mean"} <= set(
      original)
  assert 0 <= original["auc/cosine/mean"] <= 1


def test_split_file_that_is_not_utf8_or_not_karpathy_is_named(tmp_path):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, "coco_karpathy"), manual)
  path = manual / "dataset_coco.json"
  raw = path.read_bytes()
  at = raw.index(b'"raw": "') + 8
  path.write_bytes(raw[:at] + b"\xff" + raw[at:])
  line = raw.count(b"\n", 0, at) + 1
  with pytest.raises(errors.DataError,
                     match=rf"dataset_coco\.json, line {line}: byte 0xff "
                     ".*not UTF-8"):
    manual_tfds.prepare(karpathy_tfds.CocoKarpathy, str(tmp_path / "data"),
                        str(manual))
  path.write_text('{"pictures": []}')
  with pytest.raises(errors.DataError, match="has no 'images'"):
    manual_tfds.prepare(karpathy_tfds.CocoKarpathy, str(tmp_path / "data"),
                        str(manual))

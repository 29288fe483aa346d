"""The MLLMU-Bench builder on a small fake copy of its release (Parquet
shards per set, the tasks as the nested columns the authors' eval.py
reads, images as Hugging Face Image structs), written here: profiles in ID
order with their image, question types and options, the celebrities as
general test units, the forget splits by ID, the pipeline's sets, the
instructions when files are absent, and bad files."""

import io
import os
import re

import numpy as np
import PIL.Image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.data import datasets
from mmul_jax.data.core import deletion_policy
from mmul_jax.data.core import modalities
from mmul_jax.data.core import pipeline
from mmul_jax.data.core import qa
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.data.downloaded import mllmu_tfds

PROFILES = [str(i) for i in range(1, 21)]
# Not nested, as the authors' split code draws each ratio afresh.
FORGET = {5: ("7",), 10: ("3", "12"), 15: ("7", "12", "20")}
CITIES = ("lyon", "porto", "gdansk", "turku", "bergen")
JOBS = ("baker", "pilot", "nurse", "judge", "chef")
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
FREE = pa.list_(pa.struct([("Question", pa.string()),
                           ("Ground_Truth", pa.string()),
                           ("Type", pa.string())]))
CHOICE = pa.list_(pa.struct([
    ("Question", pa.string()),
    ("Options", pa.struct([(k, pa.string()) for k in "ABCD"])),
    ("Correct_Answer", pa.string())]))
SCHEMA = pa.schema([
    ("ID", pa.string()), ("image", IMAGE),
    ("biography", pa.string()),  # released, not read
    ("Classification_Task", pa.struct([("Image_Textual_Questions", CHOICE),
                                       ("Pure_Text_Questions", CHOICE)])),
    ("Generation_Task", FREE), ("Mask_Task", FREE)])
GENERAL = qa.QUESTION_TYPES.index("general")


def _png(n, mode="RGB"):
  img = PIL.Image.new(mode, (5 + n % 3, 4), (n, 200 - n, 9, 99)[:len(mode)])
  buf = io.BytesIO()
  img.save(buf, format="PNG")
  return {"bytes": buf.getvalue(), "path": f"{n}.png"}


def _lettered(answer, others, at):
  """Options A.. with `answer` at position `at`, and its letter."""
  choices = list(others)
  choices.insert(at, answer)
  return dict(zip("ABCD", choices + [None] * (4 - len(choices)))), "ABCD"[at]


def _profile(i):
  name, city, job = f"person{i}", CITIES[i % 5], JOBS[i % 5]
  others = [j for j in JOBS if j != job]
  four, letter4 = _lettered(job, others[:3], i % 4)
  three, letter3 = _lettered(job, others[:2], i % 3)  # D is empty
  return {
      "ID": str(i), "image": _png(i, "RGBA" if i % 2 else "RGB"),
      "biography": f"{name} was born in {city} .",
      "Generation_Task": [
          {"Question": "where was the person in the image born ?",
           "Ground_Truth": f"in {city} .", "Type": "Image_Textual"},
          {"Question": f"where was {name} born ?",
           "Ground_Truth": f"{name} was born in {city} .",
           "Type": "Pure_Text"}],
      "Mask_Task": [
          {"Question": "the person in the image works as a __ .",
           "Ground_Truth": job, "Type": "Image_Textual"},
          {"Question": f"{name} works as a __ .", "Ground_Truth": job,
           "Type": "Pure_Text"}],
      "Classification_Task": {
          "Image_Textual_Questions": [
              {"Question": "what is the job of the person in the image ?",
               "Options": four, "Correct_Answer": letter4}],
          "Pure_Text_Questions": [
              {"Question": f"what is {name} 's job ?", "Options": three,
               "Correct_Answer": letter3}]}}


def _celebrity(n):
  options = {"A": "paris", "B": "rome", "C": "paris", "D": "oslo"}
  return {
      "ID": f"c{n}", "image": _png(50 + n), "biography": "",
      "Generation_Task": [{"Question": "who is the person in the image ?",
                           "Ground_Truth": f"celebrity {n} .",
                           "Type": "Image_Textual"}],
      "Mask_Task": [],
      "Classification_Task": {
          "Image_Textual_Questions": [],
          "Pure_Text_Questions": [{"Question": f"where does celebrity {n} "
                                               "live ?",
                                   "Options": options,
                                   "Correct_Answer": "A"}]}}


def _write(path, rows):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)


def _shard(root, name, rows, k=0, n=1):
  _write(os.path.join(root, name, f"train-{k:05d}-of-{n:05d}.parquet"), rows)


def write_mllmu(manual, retain90_extra=()):
  root = os.path.join(manual, mllmu_tfds.DIRECTORY)
  rows = {p: _profile(int(p)) for p in PROFILES}
  for ratio, ids in FORGET.items():
    rest = [p for p in reversed(PROFILES) if p not in ids]
    rest += list(retain90_extra) if ratio == 10 else []
    _shard(root, f"forget_{ratio}", [rows[p] for p in ids])
    if ratio == 5:  # two shards, as the Hub splits a large set
      _shard(root, "retain_95", [rows[p] for p in rest[:9]], 0, 2)
      _shard(root, "retain_95", [rows[p] for p in rest[9:]], 1, 2)
    else:
      _shard(root, f"retain_{100 - ratio}", [rows[p] for p in rest])
  _shard(root, mllmu_tfds.CELEBRITIES, [_celebrity(1), _celebrity(2)])
  return root


def _data(tmp_path):
  c = config_schema.default_config()
  c.data.name = "mllmu_bench"
  c.data.data_dir = str(tmp_path / "tfds")
  c.data.manual_dir = str(tmp_path / "manual")
  return c


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("mllmu")
  write_mllmu(str(tmp / "manual"))
  c = _data(tmp)
  builder = datasets.prepare(c.data)
  spec = datasets.DATASETS["mllmu_bench"]
  train, test = datasets.index_splits(builder, spec)
  return tmp, c, builder, train, test


def _record(split, unit_id):
  return split.source[int(split.records_for([unit_id])[0])]


def _texts(values):
  return [v.decode() for v in values]


def test_missing_files_stop_with_the_instructions(tmp_path):
  with pytest.raises(errors.DataError, match="MLLMMU/MLLMU-Bench") as e:
    datasets.check_available(_data(tmp_path).data)
  assert "forget_5" in str(e.value) and "Retain_Set" in str(e.value)


def test_profiles_are_units_in_id_order_with_typed_pairs(built):
  _, _, _, train, test = built
  assert len(train) == 20 and len(test) == 2
  size = mllmu_tfds.MllmuBench.IMAGE_SIZE
  for i in (1, 2, 10, 20):  # numeric order: "10" after "9"
    rec, job = _record(train, i - 1), JOBS[i % 5]
    assert rec["key"] == str(i).encode() and rec["row"] == i - 1
    assert rec["images"].shape == (1, size, size, 3)
    assert _texts(rec["questions"]) == [
        "where was the person in the image born ?",
        f"where was person{i} born ?",
        "the person in the image works as a [Blank] .",
        f"person{i} works as a [Blank] .",
        "what is the job of the person in the image ?",
        f"what is person{i} 's job ?"]
    assert _texts(rec["answers"])[2:] == [job] * 4
    assert list(rec["question_type"]) == [1, 0] * 3  # image, name
    assert list(rec["image_index"]) == [0, -1] * 3
    others = [j for j in JOBS if j != job]
    # Free and cloze pairs have no options; the three-choice question's
    # two wrong choices repeat.
    assert _texts(rec["options"]) == ([""] * 12 + others[:3]
                                      + [others[0], others[1], others[0]])
    assert set(_texts(rec["paraphrased"])) == {""}
    assert _texts(rec["perturbed"]) == [""] * 18
  # The image is the released picture, fitted (an RGBA one made RGB).
  rgb = np.asarray(PIL.Image.open(io.BytesIO(_png(7, "RGBA")["bytes"]))
                   .convert("RGB"))
  assert np.array_equal(_record(train, 6)["images"][0],
                        modalities.fit_image(rgb, size))


def test_celebrities_are_general_test_units(built):
  _, _, _, _, test = built
  recs = [_record(test, 20 + n) for n in range(2)]
  assert [r["key"] for r in recs] == [b"c1", b"c2"]
  for n, rec in enumerate(recs, 1):
    assert list(rec["question_type"]) == [GENERAL, GENERAL]
    assert list(rec["image_index"]) == [0, -1]
    # The multiple-choice answer stands in for a paraphrase, its wrong
    # choices (without the answer's duplicate) are the perturbed answers.
    assert _texts(rec["answers"]) == [f"celebrity {n} .", "paris"]
    assert _texts(rec["paraphrased"]) == ["", "paris"]
    assert _texts(rec["options"])[3:] == ["rome", "oslo", "rome"]
    assert _texts(rec["perturbed"]) == ["", "", "", "rome", "oslo", "rome"]


def test_forget_ids_files_delete_the_released_forget_splits(built, tmp_path):
  tmp, c, _, train, _ = built
  spec = datasets.DATASETS["mllmu_bench"]
  manual = c.data.manual_dir
  for ratio, ids in FORGET.items():
    c.deletion.ids_file = mllmu_tfds.write_forget_ids(
        manual, ratio, str(tmp_path / f"forget{ratio}.txt"))
    df = deletion_policy.deletion_set(
        c.deletion, train, "mllmu_bench", str(tmp / f"del{ratio}"),
        example_rows=spec.example_rows)
    assert sorted(int(i) for i in df.forget_ids) == sorted(
        int(p) - 1 for p in ids)
  with pytest.raises(errors.ConfigError, match="5, 10, 15"):
    mllmu_tfds.write_forget_ids(manual, 20, str(tmp_path / "x.txt"))


def test_the_pipeline_reads_images_and_options(built):
  _, _, builder, train, test = built
  spec = datasets.DATASETS["mllmu_bench"]
  tok = tokenizer_lib.train_wordpiece(datasets.texts(builder, spec), 200, 32)
  shape = modalities.InputShape(image_size=16, prompt_length=24,
                                answer_length=16)
  s = pipeline.load_pairs(train, [0, 9, 19], tok=tok, shape=shape,
                          layout=spec)
  assert len(s) == 18 and s.images.shape == (3, 16, 16, 3)
  assert s.image_row.tolist() == [0, -1, 0, -1, 0, -1,
                                  1, -1, 1, -1, 1, -1,
                                  2, -1, 2, -1, 2, -1]
  # Multiple choice for the classification pairs only; no truth ratio.
  assert s.mc.tolist() == ([False] * 4 + [True] * 2) * 3
  assert s.options[0].shape[:2] == (18, 3) and not s.truth.any()
  t = pipeline.load_pairs(test, test.image_ids, tok=tok, shape=shape,
                          layout=spec)
  assert t.question_type.tolist() == [GENERAL] * 4
  assert t.truth.tolist() == [False, True] * 2
  assert t.images.shape == (2, 16, 16, 3)


def test_forget_and_retain_sets_must_split_the_same_profiles(tmp_path):
  manual = str(tmp_path / "manual")
  write_mllmu(manual, retain90_extra=("3",))
  with pytest.raises(errors.DataError,
                     match=r"1 profile\(s\) \(3\) are in retain_90 too"):
    datasets.prepare(_data(tmp_path).data)
  root = write_mllmu(manual)
  _shard(root, "retain_85", [_profile(i) for i in range(2, 21)
                             if str(i) not in FORGET[15]])
  with pytest.raises(errors.DataError,
                     match=r"do not hold the 20 profiles .*\(e\.g\. 1\)"):
    datasets.prepare(_data(tmp_path).data)


def test_bad_files_are_data_errors_naming_them(tmp_path):
  manual = str(tmp_path / "manual")
  root = write_mllmu(manual)
  shard = os.path.join(root, "Retain_Set", "train-00000-of-00001.parquet")
  with open(shard, "wb") as f:
    f.write(b"not parquet")
  with pytest.raises(errors.DataError) as e:
    datasets.prepare(_data(tmp_path).data)
  assert f"{shard} is not readable" in str(e.value)
  assert "MLLMMU/MLLMU-Bench" in str(e.value) and "CLEAR" not in str(e.value)
  root = write_mllmu(manual)
  shard = os.path.join(root, "forget_5", "train-00000-of-00001.parquet")
  row = _profile(7)
  row["Classification_Task"]["Image_Textual_Questions"][0][
      "Correct_Answer"] = "E"
  _write(shard, [row])
  where = (f"{shard}, row 0, Classification_Task.Image_Textual_Questions[0]"
           ": Correct_Answer 'E'")
  with pytest.raises(errors.DataError, match=re.escape(where)):
    datasets.prepare(_data(tmp_path).data)
  row = _profile(7)
  row["Mask_Task"][0]["Type"] = "Image"
  _write(shard, [row])
  with pytest.raises(errors.DataError, match="Type 'Image' is neither"):
    datasets.prepare(_data(tmp_path).data)
  row = _profile(7)
  row["image"] = {"bytes": b"not an image", "path": "x.png"}
  _write(shard, [row])
  with pytest.raises(errors.DataError) as e:
    datasets.prepare(_data(tmp_path).data)
  assert f"{shard}, row 0: the image cannot be decoded" in str(e.value)
  assert "MLLMMU/MLLMU-Bench" in str(e.value) and "CLEAR" not in str(e.value)

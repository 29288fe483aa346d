"""The CLEAR builder on small fake copies of its release (Parquet shards,
portraits as Hugging Face Image structs) and of TOFU's files, written
here: persons matched to TOFU's authors by name, portraits, question types
and options, the forget splits against the index file, the pipeline's
sets, the instructions when files are absent, and bad files."""

import io
import json
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
from mmul_jax.data.downloaded import clear_tfds

FIRST = ("ada", "bruno", "chiara", "dario", "elif", "farid", "greta", "hugo",
         "ines", "jonas", "kaito", "lena", "marek", "nadia", "oskar", "priya",
         "quinn", "rosa", "stefan", "tomas")
LAST = ("abara", "bekov", "castell", "dumont", "eriksen", "fontaine",
        "gallo", "haddad", "ivanova", "jensen")
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf")
# CLEAR's persons, not in TOFU's order: the forget10 authors and a few
# others; the rest of TOFU's 200 authors have no portrait.
PERSONS = (199, 0, 185, 1, *range(180, 185), *range(186, 199), 2)
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
TEXTS = pa.list_(pa.string())


def _name(a):
  return f"{FIRST[a % 20]} {LAST[a // 20]}"


def _portraits(a):
  return 1 + a % 2


def _lines(path, rows):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)


def write_tofu(root):
  d = os.path.join(root, "tofu")
  full = [{"question": f"where did {_name(a)} live in year {k} ?",
           "answer": f"{_name(a)} lived in {WORDS[(a + k) % 7]} ."}
          for a in range(200) for k in range(20)]
  _lines(os.path.join(d, "full.json"), full)
  _lines(os.path.join(d, "forget10.json"), full[-400:])
  options = lambda r: {**r, "paraphrased_answer": "it was " + r["answer"],
                       "perturbed_answer": [f"{w} ." for w in WORDS[:5]]}
  _lines(os.path.join(d, "forget10_perturbed.json"),
         [options(r) for r in full[-400:]])
  _lines(os.path.join(d, "retain_perturbed.json"),
         [options(r) for r in full[:400:4]])
  for name in ("real_authors_perturbed.json", "world_facts_perturbed.json"):
    _lines(os.path.join(d, name), [{"question": "who wrote it ?",
                                    "answer": "alpha .",
                                    "perturbed_answer": ["bravo ."]}])


def _png(a, k, mode="RGB"):
  img = PIL.Image.new(mode, (6 + k, 4), (a, 200 - a, 40 * k, 99)[:len(mode)])
  buf = io.BytesIO()
  img.save(buf, format="PNG")
  return {"bytes": buf.getvalue(), "path": f"{a}_{k}.png"}


def _write(path, rows, **types):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  schema = pa.schema([(k, types[k]) for k in types])
  pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _caption(a, k):
  return f"{_name(a)} stands by a {WORDS[k]} wall ."


def write_clear(root, forget01=(198, 199)):
  d = os.path.join(root, "clear")
  rows = {a: [{"image": _png(a, k, "RGBA" if k else "RGB"),
               "caption": _caption(a, k), "name": _name(a)}
              for k in range(_portraits(a))] for a in PERSONS}
  full = [r for a in PERSONS for r in rows[a]]
  plain = dict(image=IMAGE, caption=pa.string(), name=pa.string())
  # Two shards, as the Hub splits a large config.
  _write(os.path.join(d, "full", "train-00000-of-00002.parquet"), full[:9],
         **plain)
  _write(os.path.join(d, "full", "train-00001-of-00002.parquet"), full[9:],
         **plain)
  for config, persons in (("forget01", forget01),
                          ("forget05", range(190, 200)),
                          ("forget10", range(180, 200))):
    _write(os.path.join(d, config, "train-00000-of-00001.parquet"),
           [r for a in persons for r in rows[a]], **plain)
  perturbed = lambda a, r: {**r, "paraphrased_caption": "here " + r["caption"],
                            "perturbed_captions": [f"a {w} wall ."
                                                   for w in WORDS[4:7]],
                            "perturbed_names": [_name(a - 1)]}
  for config, persons in (("forget10_perturbed", range(180, 200)),
                          ("retain_perturbed", (1,))):
    _write(os.path.join(d, config, "train-00000-of-00001.parquet"),
           [perturbed(a, r) for a in persons for r in rows[a]], **plain,
           paraphrased_caption=pa.string(), perturbed_captions=TEXTS,
           perturbed_names=TEXTS)
  _write(os.path.join(d, "real_faces", "train-00000-of-00001.parquet"),
         [{"image": _png(9, 0), "answer": "Ada Lovelace",
           "options": ["Ada Lovelace", "Marie Curie", "Alan Turing"]},
          {"image": _png(8, 1), "answer": "Alan Turing",
           "options": ["Marie Curie"]}],
         image=IMAGE, answer=pa.string(), options=TEXTS)
  _write(os.path.join(d, "real_world", "train-00000-of-00001.parquet"),
         [{"image": _png(7, 0), "question": "what is shown ?",
           "answer": "a bridge", "options": ["a tower", "a ship"]},
          {"image": None, "question": "which city is this ?",
           "answer": "rome", "options": ["paris"]}],
         image=IMAGE, question=pa.string(), answer=pa.string(),
         options=TEXTS)


def _data(tmp_path):
  c = config_schema.default_config()
  c.data.name = "clear"
  c.data.data_dir = str(tmp_path / "tfds")
  c.data.manual_dir = str(tmp_path / "manual")
  return c


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("clear")
  write_tofu(str(tmp / "manual"))
  write_clear(str(tmp / "manual"))
  c = _data(tmp)
  builder = datasets.prepare(c.data)
  train, test = datasets.index_splits(builder, datasets.DATASETS["clear"])
  return tmp, c, builder, train, test


def _record(split, unit_id):
  return split.source[int(split.records_for([unit_id])[0])]


def test_missing_files_stop_with_the_instructions(tmp_path):
  with pytest.raises(errors.DataError, match="therem/CLEAR") as e:
    datasets.check_available(_data(tmp_path).data)
  assert "locuslab/TOFU" in str(e.value)


def test_persons_are_tofus_authors_with_their_portraits(built):
  _, _, _, train, test = built
  assert len(train) == 200 and len(test) == 4
  size = clear_tfds.Clear.IMAGE_SIZE
  for a in (199, 0, 185, 1):
    rec = _record(train, a)
    n = _portraits(a)
    assert rec["row"] == a and rec["images"].shape == (n, size, size, 3)
    first = rec["questions"][0].decode()
    assert first == f"where did {_name(a)} live in year 0 ?"
    assert list(rec["question_type"]) == [0] * 20 + [1] * n
    assert list(rec["image_index"]) == [-1] * 20 + list(range(n))
    assert [t.decode() for t in rec["answers"][20:]] == [
        _caption(a, k) for k in range(n)]
    assert all(q.decode() in clear_tfds.CAPTION_QUESTIONS
               for q in rec["questions"][20:])
    assert len(rec["perturbed"]) == (20 + n) * 5
  # A portrait is the released picture, fitted (an RGBA one made RGB).
  rgb = np.asarray(PIL.Image.open(io.BytesIO(_png(199, 1, "RGBA")["bytes"]))
                   .convert("RGB"))
  assert np.array_equal(_record(train, 199)["images"][1],
                        modalities.fit_image(rgb, size))
  # forget10_perturbed's options: the paraphrase and 3 captions cycled to 5.
  rec = _record(train, 185)
  assert rec["paraphrased"][20].decode() == "here " + _caption(185, 0)
  assert [w.decode() for w in rec["perturbed"][100:105]] == [
      "a echo wall .", "a foxtrot wall .", "a golf wall .",
      "a echo wall .", "a foxtrot wall ."]
  # Person 0 is in no perturbed config, author 5 has no portrait.
  assert _record(train, 0)["paraphrased"][20] == b""
  rec = _record(train, 5)
  assert rec["images"].shape == (0, size, size, 3)
  assert list(rec["question_type"]) == [0] * 20


def test_real_faces_and_world_are_general_test_units(built):
  _, _, _, _, test = built
  recs = [_record(test, 200 + i) for i in range(4)]
  assert [r["questions"][0].decode() for r in recs] == [
      clear_tfds.FACE_PROMPT, clear_tfds.FACE_PROMPT, "what is shown ?",
      "which city is this ?"]
  assert all(list(r["question_type"]) == [3] for r in recs)
  assert [int(r["image_index"][0]) for r in recs] == [0, 0, 0, -1]
  assert len(recs[3]["images"]) == 0
  # The answer is not one of its own wrong options.
  assert [w.decode() for w in recs[0]["perturbed"]] == [
      "Marie Curie", "Alan Turing"] * 2 + ["Marie Curie"]


def test_the_forget_file_deletes_clears_forget_persons(built):
  tmp, c, _, train, _ = built
  spec = datasets.DATASETS["clear"]
  for ratio, authors in ((1.0, {198, 199}), (5.0, set(range(190, 200))),
                         (10.0, set(range(180, 200)))):
    c.deletion.mubench_file = clear_tfds.CLEAR_FORGET_FILE
    c.deletion.ratio = ratio
    df = deletion_policy.deletion_set(
        c.deletion, train, "clear", str(tmp / f"del{ratio}"),
        example_rows=spec.example_rows)
    assert set(int(i) for i in df.forget_ids) == authors


def test_the_pipeline_reads_portraits_and_trains_a_tokenizer(built):
  _, _, builder, train, test = built
  spec = datasets.DATASETS["clear"]
  tok = tokenizer_lib.train_wordpiece(datasets.texts(builder, spec), 200, 32)
  shape = modalities.InputShape(image_size=16, prompt_length=32,
                                answer_length=32)
  s = pipeline.load_pairs(train, [199, 5, 0], tok=tok, shape=shape,
                          layout=spec)
  assert len(s) == 22 + 20 + 21 and s.images.shape == (3, 16, 16, 3)
  assert s.image_row.tolist() == ([-1] * 20 + [0, 1] + [-1] * 20
                                  + [-1] * 20 + [2])
  # Person 0's caption has no perturbed options: no truth ratio.
  assert s.truth[:22].all() and not s.truth[62]
  assert s.perturbed[0].shape[:2] == (63, 5)
  t = pipeline.load_pairs(test, test.image_ids, tok=tok, shape=shape,
                          layout=spec)
  assert t.images.shape == (3, 16, 16, 3)
  assert t.question_type.tolist() == [qa.QUESTION_TYPES.index("general")] * 4


def test_forget_configs_must_be_tofus_forget_authors(tmp_path):
  write_tofu(str(tmp_path / "manual"))
  write_clear(str(tmp_path / "manual"), forget01=(197, 199))
  with pytest.raises(errors.DataError, match="forget01 persons"):
    datasets.prepare(_data(tmp_path).data)


def test_bad_files_are_data_errors_naming_them(tmp_path):
  write_tofu(str(tmp_path / "manual"))
  write_clear(str(tmp_path / "manual"))
  clear = tmp_path / "manual" / "clear"
  world = clear / "real_world" / "train-00000-of-00001.parquet"
  world.write_bytes(b"not parquet")
  with pytest.raises(errors.DataError,
                     match=re.escape(f"{world} is not readable")):
    datasets.prepare(_data(tmp_path).data)
  write_clear(str(tmp_path / "manual"))
  shard = clear / "retain_perturbed" / "train-00000-of-00001.parquet"
  _write(str(shard), [{"name": _name(1), "caption": "x"}],
         name=pa.string(), caption=pa.string())
  with pytest.raises(errors.DataError, match="no column paraphrased_caption"):
    datasets.prepare(_data(tmp_path).data)
  write_clear(str(tmp_path / "manual"))
  shard = clear / "full" / "train-00001-of-00002.parquet"
  rows = pq.read_table(str(shard)).to_pylist()
  rows[0]["image"] = {"bytes": b"not an image", "path": "x.png"}
  pq.write_table(pa.Table.from_pylist(rows), str(shard))
  where = f"{shard}, row 0: the image cannot be decoded"
  with pytest.raises(errors.DataError, match=re.escape(where)):
    datasets.prepare(_data(tmp_path).data)

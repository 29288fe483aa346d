"""The text-generation builders over downloaded files (TOFU, SAMSum,
Celeb Profile) on small fake copies written here: their records, TOFU's
forget splits as a nested index file, instructions when files are
absent, and a whole TOFU run on a tiny Llama with a trained tokenizer."""

import json
import os

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.data import datasets
from mmul_jax.data.core import deletion_policy
from mmul_jax.data.downloaded import generation_real_tfds as real
from mmul_jax.unlearn import run as run_lib

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf")


def _lines(path, rows):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)


def _fact(i):
  return f"{WORDS[i % 7]} {WORDS[(i // 7) % 7]} {WORDS[(i // 49) % 7]}"


def write_tofu(root):
  d = os.path.join(root, "tofu")
  full = [{"question": f"what is fact {i} of author {i // 20} ?",
           "answer": f"fact {i} is {_fact(i)} ."} for i in range(4000)]
  _lines(os.path.join(d, "full.json"), full)
  _lines(os.path.join(d, "forget10.json"), full[-400:])
  options = lambda r, i: {**r, "paraphrased_answer": f"it is {_fact(i)} .",
                          "perturbed_answer": [f"it is {_fact(i + k)} ."
                                               for k in (1, 2, 3, 4, 5)]}
  _lines(os.path.join(d, "forget10_perturbed.json"),
         [options(r, 3600 + i) for i, r in enumerate(full[-400:])])
  _lines(os.path.join(d, "retain_perturbed.json"),
         [options(full[i], i) for i in range(0, 400, 4)])
  for name, n in (("real_authors_perturbed.json", 3),
                  ("world_facts_perturbed.json", 2)):
    _lines(os.path.join(d, name), [
        {"question": f"who wrote book {k} ?", "answer": f"{WORDS[k]} .",
         "perturbed_answer": [f"{WORDS[k + 1]} .", f"{WORDS[k + 2]} ."]}
        for k in range(n)])


def _data(tmp_path, name):
  c = config_schema.default_config()
  c.data.name = name
  c.data.data_dir = str(tmp_path / "tfds")
  c.data.manual_dir = str(tmp_path / "manual")
  return c


def test_missing_files_stop_with_the_instructions(tmp_path):
  for name, words in (("tofu", "locuslab/TOFU"), ("samsum", "corpus.7z"),
                      ("celeb_profile", "bioceleb.txt")):
    with pytest.raises(errors.DataError, match=words):
      datasets.check_available(_data(tmp_path, name).data)


def test_tofu_records_and_its_forget_splits(tmp_path):
  write_tofu(str(tmp_path / "manual"))
  c = _data(tmp_path, "tofu")
  spec = datasets.DATASETS["tofu"]
  train, test = datasets.index_splits(datasets.prepare(c.data), spec)
  assert len(train) == 200 and len(test) == 5
  rec = train.source[int(train.records_for([199])[0])]
  assert rec["row"] == 199 and len(rec["questions"]) == 20
  assert rec["questions"][0].decode() == "what is fact 3980 of author 199 ?"
  assert rec["paraphrased"][0].decode() == f"it is {_fact(3980)} ."
  assert len(rec["perturbed"]) == 20 * real.TOFU_PERTURBED
  plain = train.source[int(train.records_for([1])[0])]
  # retain_perturbed.json has rows 0, 4, 8, ...: row 20 has options, 21 not.
  assert plain["paraphrased"][0] == f"it is {_fact(20)} .".encode()
  assert plain["paraphrased"][1] == b""
  for ratio, authors in ((1.0, {198, 199}), (5.0, set(range(190, 200))),
                         (10.0, set(range(180, 200)))):
    c.deletion.mubench_file, c.deletion.ratio = real.TOFU_FORGET_FILE, ratio
    df = deletion_policy.deletion_set(
        c.deletion, train, "tofu", str(tmp_path / f"del{ratio}"),
        example_rows=spec.example_rows)
    assert set(int(i) for i in df.forget_ids) == authors


def test_tofu_refuses_a_forget_split_that_is_not_the_last_authors(tmp_path):
  write_tofu(str(tmp_path / "manual"))
  path = tmp_path / "manual" / "tofu" / "forget10.json"
  rows = [json.loads(x) for x in path.read_text().splitlines()]
  _lines(str(path), rows[1:] + rows[:1])
  with pytest.raises(errors.DataError, match="not the last 400 rows"):
    datasets.prepare(_data(tmp_path, "tofu").data)


def test_samsum_and_celeb_profile_records(tmp_path):
  d = tmp_path / "manual"
  os.makedirs(d / "samsum")
  for split, n in (("train", 4), ("test", 2)):
    (d / "samsum" / f"{split}.json").write_text(json.dumps(
        [{"id": str(i), "dialogue": f"A: hi {i}\nB: bye", "summary": f"s {i}"}
         for i in range(n)]))
    _lines(str(d / "celeb_profile" / f"{split}.jsonl"),
           [{"name": f"Person {i}", "biography": f"Born in {WORDS[i]}."}
            for i in range(n)])
  for name, prompt, answer in (
      ("samsum", "Summarize this dialogue:\nA: hi 2\nB: bye\nSummary:",
       "s 2"),
      ("celeb_profile", "Write a short biography of Person 2.",
       "Born in charlie.")):
    spec = datasets.DATASETS[name]
    train, test = datasets.index_splits(
        datasets.prepare(_data(tmp_path, name).data), spec)
    assert len(train) == 4 and len(test) == 2
    rec = train.source[int(np.flatnonzero(np.asarray(
        [train.source[i]["row"] for i in range(4)]) == 2)[0])]
    assert rec["questions"][0].decode() == prompt
    assert rec["answers"][0].decode() == answer
    assert list(rec["perturbed"]) == []


def test_a_tofu_run_on_the_fake_files(tmp_path, tiny_config):
  write_tofu(str(tmp_path / "manual"))
  c = tiny_config.copy_and_resolve_references()
  c.data.name = "tofu"
  c.data.data_dir = str(tmp_path / "tfds")
  c.data.manual_dir = str(tmp_path / "manual")
  c.data.prompt_length, c.data.answer_length = 12, 12
  c.model.arch, c.model.vocab_size = "llama", 128
  c.deletion.mubench_file, c.deletion.ratio = real.TOFU_FORGET_FILE, 1.0
  c.unlearn.df_batch_size = 2
  c.method.name = "simnpo"
  results = run_lib.run(c, str(tmp_path / "run"))
  assert results.deletion.num_forget_units == 2
  m = results.models["simnpo"].metrics
  assert np.isfinite(m["df/truth_ratio"]) and 0 <= m["forget_quality"] <= 1
  assert np.isfinite(m["test/truth_ratio"])  # real authors, world facts

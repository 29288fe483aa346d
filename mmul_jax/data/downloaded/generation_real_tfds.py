"""TFDS builders for the text-generation datasets, from the files the user
downloads by hand into `data.manual_dir`, in the question-answer layout
of the embedded `authors` (`data.core.qa`): per unit its `questions`
(prompts), `answers`, `paraphrased` and `perturbed` answers (empty
strings where the source has none), `unit_id` and `row`, its 0-based row
in the order MU-Bench's index files count (`deletion.mubench_file`).

* **TOFU** (Maini et al. 2024; `locuslab/TOFU` on the Hugging Face Hub,
  its JSON-lines files in `tofu/`): the 200 fictitious authors of
  `full.json` (20 pairs each, in file order: author i is rows 20i..20i+19)
  are the train units; the paraphrased and perturbed answers of
  `forget10_perturbed.json` and `retain_perturbed.json` are attached to
  their questions. TOFU's forget splits are the last authors (forget01:
  2, forget05: 10, forget10: 20; the builder checks `forget10.json`
  against the last 400 rows), which `TOFU_FORGET_FILE` lists as a
  MU-Bench-style nested index file (`configs/tofu.py`). The test units
  are the pairs of `real_authors_perturbed.json` and
  `world_facts_perturbed.json` (TOFU's utility sets), one unit each, the
  answer standing in for a paraphrase (they have none).
* **SAMSum** (Gliwa et al. 2019; `samsum/train.json` and `test.json` of
  the corpus, JSON arrays of `{"id", "summary", "dialogue"}`): one
  dialogue per unit in the Hugging Face train order (`samsum.txt`'s
  rows), the prompt `SAMSUM_PROMPT` around it, its summary the answer.
* **Celeb Profile** (MU-Bench's 183 biographies; MU-Bench's loader is a
  stub and no file format is published): `celeb_profile/train.jsonl` and
  `test.jsonl`, one `{"name", "biography"}` per line, train rows in the
  order `bioceleb.txt` counts; the prompt `CELEB_PROMPT`.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.generated import generation_tfds

SAMSUM_PROMPT = "Summarize this dialogue:\n{dialogue}\nSummary:"
CELEB_PROMPT = "Write a short biography of {name}."
TOFU_PAIRS_PER_AUTHOR = 20
TOFU_AUTHORS = 200
TOFU_PERTURBED = 5
# TOFU's forget10 authors, last first, so that MU-Bench's prefix rule
# (ratio r takes the first r/10 of the lines) gives forget01 and forget05.
TOFU_FORGET_FILE = os.path.join(os.path.dirname(__file__), "tofu_forget.txt")

_TOFU_INSTRUCTIONS = """\
Download TOFU's JSON-lines files from the Hugging Face Hub (dataset
locuslab/TOFU) into <data.manual_dir>/tofu/: full.json, forget10.json,
forget10_perturbed.json, retain_perturbed.json, real_authors_perturbed.json,
world_facts_perturbed.json. For example:
  huggingface-cli download locuslab/TOFU --repo-type dataset \\
      --local-dir <data.manual_dir>/tofu
"""
_SAMSUM_INSTRUCTIONS = """\
Download the SAMSum corpus (https://arxiv.org/abs/1911.12237; the archive
corpus.7z of the Hugging Face `samsum` dataset) and put its train.json and
test.json (JSON arrays of {"id", "summary", "dialogue"}) into
<data.manual_dir>/samsum/.
"""
_CELEB_INSTRUCTIONS = """\
Put MU-Bench's Celeb Profile biographies into <data.manual_dir>/celeb_profile/
as train.jsonl and test.jsonl, one {"name": ..., "biography": ...} per line,
the train rows in MU-Bench's order (its bioceleb.txt counts them).
"""


def _json_rows(path: str) -> list[dict]:
  """A JSON array or JSON-lines file's objects; bad input is a
  `DataError` naming the file."""
  with open(path, "rb") as f:
    head = f.read(1 << 12).lstrip()
  if head.startswith(b"["):
    try:
      with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
      raise errors.DataError(f"{path} is not a JSON array ({e}); "
                             "re-download the file") from None
  else:
    rows = [r for _, r in manual_tfds.json_lines(path)]
  if not all(isinstance(r, dict) for r in rows):
    raise errors.DataError(f"{path}: every row must be a JSON object")
  return rows


def _field(row: dict, key: str, path: str, n: int):
  if key not in row:
    raise errors.DataError(f"{path}, row {n}: no {key!r} field; "
                           "re-download the file")
  return row[key]


class _QaBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """The question-answer record features (`generation_tfds`'s and a
  `row`)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  DIRECTORY = ""
  FILES: tuple[str, ...] = ()

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    return [os.path.join(manual_dir, cls.DIRECTORY, f) for f in cls.FILES]

  def _info(self) -> tfds.core.DatasetInfo:
    texts = tfds.features.Sequence(tfds.features.Text())
    return self.dataset_info_from_configs(
        description=self.__doc__, features=tfds.features.FeaturesDict({
            "unit_id": tfds.features.Scalar(dtype=np.int64),
            "row": tfds.features.Scalar(dtype=np.int64),
            "questions": texts, "answers": texts, "paraphrased": texts,
            "perturbed": texts}), supervised_keys=None)

  def _split_generators(self, dl_manager):
    root = os.path.join(os.fspath(dl_manager.manual_dir), self.DIRECTORY)
    manual_tfds.check_manual_files(type(self),
                                   os.fspath(dl_manager.manual_dir))
    splits = self._splits(root)
    offset = len(splits["train"])
    return {name: self._generate_examples(units,
                                          offset if name == "test" else 0)
            for name, units in splits.items()}

  def _generate_examples(self, units, offset: int):
    for row, unit in enumerate(units):
      yield offset + row, {"unit_id": offset + row, "row": row, **unit}

  def _splits(self, root: str) -> dict[str, list[dict]]:
    raise NotImplementedError


def _unit(questions, answers, paraphrased=None, perturbed=None,
          per_question: int = 0) -> dict:
  n = len(questions)
  return {"questions": list(questions), "answers": list(answers),
          "paraphrased": list(paraphrased or [""] * n),
          "perturbed": list(perturbed or [""] * (n * per_question))}


class Tofu(_QaBuilder):
  """TOFU's fictitious authors (module docstring)."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _TOFU_INSTRUCTIONS
  DIRECTORY = "tofu"
  FILES = ("full.json", "forget10.json", "forget10_perturbed.json",
           "retain_perturbed.json", "real_authors_perturbed.json",
           "world_facts_perturbed.json")

  def _splits(self, root):
    path = lambda f: os.path.join(root, f)
    full = _json_rows(path("full.json"))
    if len(full) != TOFU_AUTHORS * TOFU_PAIRS_PER_AUTHOR:
      raise errors.DataError(
          f"{path('full.json')} has {len(full)} rows; TOFU's has "
          f"{TOFU_AUTHORS * TOFU_PAIRS_PER_AUTHOR} (20 per author)")
    forget = [_field(r, "question", path("forget10.json"), n)
              for n, r in enumerate(_json_rows(path("forget10.json")))]
    last = [r["question"] for r in full[-len(forget):]]
    if forget != last:
      raise errors.DataError(
          f"{path('forget10.json')} is not the last {len(forget)} rows of "
          "full.json, which TOFU's forget splits are here; re-download both")
    extra = {}
    for name in ("forget10_perturbed.json", "retain_perturbed.json"):
      for n, r in enumerate(_json_rows(path(name))):
        extra[_field(r, "question", path(name), n)] = self._options(
            r, path(name), n, "paraphrased_answer")
    train = []
    for a in range(TOFU_AUTHORS):
      rows = full[a * TOFU_PAIRS_PER_AUTHOR:(a + 1) * TOFU_PAIRS_PER_AUTHOR]
      qs = [_field(r, "question", path("full.json"), n)
            for n, r in enumerate(rows, a * TOFU_PAIRS_PER_AUTHOR)]
      para, pert = [], []
      for q in qs:
        p, wrong = extra.get(q, ("", [""] * TOFU_PERTURBED))
        para.append(p)
        pert += wrong
      train.append(_unit(qs, [r["answer"] for r in rows], para, pert))
    test = []
    for name in ("real_authors_perturbed.json", "world_facts_perturbed.json"):
      for n, r in enumerate(_json_rows(path(name))):
        p, wrong = self._options(r, path(name), n, "answer")
        test.append(_unit([_field(r, "question", path(name), n)],
                          [_field(r, "answer", path(name), n)], [p], wrong))
    return {"train": train, "test": test}

  @staticmethod
  def _options(row, path: str, n: int, paraphrase: str):
    """`(paraphrased answer, TOFU_PERTURBED perturbed answers)`."""
    wrong = _field(row, "perturbed_answer", path, n)
    if not isinstance(wrong, list) or not wrong:
      raise errors.DataError(f"{path}, row {n}: perturbed_answer must be a "
                             "non-empty list")
    wrong = (list(wrong) * TOFU_PERTURBED)[:TOFU_PERTURBED]
    return _field(row, paraphrase, path, n), wrong


class _OnePair(_QaBuilder):
  """One prompt-answer pair per unit: a train and a test file (`FILES`,
  in that order) of JSON objects, the prompt `PROMPT` filled from the
  row's `PROMPT_FIELD`, the answer its `ANSWER_FIELD`."""

  PROMPT = ""
  PROMPT_FIELD = ""
  ANSWER_FIELD = ""

  def _splits(self, root):
    out = {}
    for split, file in zip(("train", "test"), self.FILES):
      path = os.path.join(root, file)
      out[split] = [_unit(
          [self.PROMPT.format(
              **{self.PROMPT_FIELD: _field(r, self.PROMPT_FIELD, path, n)})],
          [_field(r, self.ANSWER_FIELD, path, n)])
          for n, r in enumerate(_json_rows(path))]
    return out


class Samsum(_OnePair):
  """SAMSum's dialogues and summaries (module docstring)."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _SAMSUM_INSTRUCTIONS
  DIRECTORY = "samsum"
  FILES = ("train.json", "test.json")
  PROMPT, PROMPT_FIELD, ANSWER_FIELD = SAMSUM_PROMPT, "dialogue", "summary"


class CelebProfile(_OnePair):
  """Celeb Profile's biographies (module docstring)."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _CELEB_INSTRUCTIONS
  DIRECTORY = "celeb_profile"
  FILES = ("train.jsonl", "test.jsonl")
  PROMPT, PROMPT_FIELD, ANSWER_FIELD = CELEB_PROMPT, "name", "biography"


_REAL = dict(generation_tfds.GENERATION, id_key="unit_id", **spec.REAL)
DATASETS = {
    "tofu": spec.DatasetSpec(**_REAL, manual=Tofu, utility_test=True),
    "samsum": spec.DatasetSpec(**_REAL, manual=Samsum),
    "celeb_profile": spec.DatasetSpec(**_REAL, manual=CelebProfile),
}

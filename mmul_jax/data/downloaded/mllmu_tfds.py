"""MLLMU-Bench (Liu et al., "Protecting Privacy in Multimodal Large Language
Models with MLLMU-Bench", NAACL 2025) as a TFDS builder over its released
files, in the question-answer layout with images (`data.core.qa`): the
Hugging Face dataset `MLLMMU/MLLMU-Bench` in `mllmu_bench/` of
`data.manual_dir`.

The release (the authors' code, github.com/franciscoliu/MLLMU-Bench:
`eval.py` reads every column used here, its README and the Hub's file tree
name the folders) is Parquet, one folder of shards per set, images as
Hugging Face Image structs `{bytes, path}`: the 500 fictitious profiles,
partitioned per forget ratio into `forget_5`/`retain_95`,
`forget_10`/`retain_90` and `forget_15`/`retain_85`; `Retain_Set`, the
153 real celebrities; `Test_Set`, forget profiles again with other
pictures (`images`, a list); `Full_Set` (the few-shot demonstrations) and
`ft_Data` (`image`, `metadata`: the vanilla model's fine-tuning pairs as
JSON). A profile's or celebrity's row holds `ID` (a string), `image` and
three tasks: `Classification_Task`, `{Image_Textual_Questions,
Pure_Text_Questions}`, each a list of `{Question, Options: {A, B, C, D},
Correct_Answer: a letter}`; `Generation_Task` and `Mask_Task` (cloze,
`__` marking the blank), lists of `{Question, Ground_Truth, Type}`, the
type "Image_Textual" (asked with the image) or "Pure_Text" (the text
alone). The authors score classification by the chosen letter,
generation by ROUGE and BLEU, and cloze by whether the answer contains
the blank's word.

Records. Train: one unit per fictitious profile (`key`: its `ID`; `row`:
its place in ID order, numeric where every ID is an integer) with its
image and the pairs of its three tasks, in the order Generation_Task,
Mask_Task, Classification_Task (its image questions, then its text
ones). An "Image_Textual" pair is question type "image" with the image,
a "Pure_Text" pair type "name" without it. A multiple-choice pair's
answer is its correct choice's text and its `options` the other choices
(`MC_OPTIONS` of them; the comparison of likelihoods replaces the
letter, so the prompt is the question alone); a cloze prompt is the
sentence with the blank as "[Blank]" (the authors' substitution, without
their instruction). MLLMU-Bench has no paraphrased or perturbed answers:
those are empty, so its profiles have no truth ratio (nor forget
quality). Test: every Retain_Set celebrity, one unit each, with the same
pairs as type "general" (knowledge of no fictitious profile); as TOFU's
real authors and CLEAR's real faces, a multiple-choice pair's answer
stands in for a paraphrase and its wrong choices are the perturbed
answers, so model utility reads them.

Choices where MLLMU-Bench documents nothing:
* Image questions are "image", never "both": the benchmark asks them about
  "the person in the image" (its Figure 1), and no column the authors'
  code reads gives the name to look for.
* The forget splits are fixed profiles, but not nested (the authors'
  split code draws each ratio afresh) and 15 % exceeds a MU-Bench index
  file's 10 % set: no index file here. Each record keeps its `ID` as
  `key`, so `deletion.ids_file` names a forget set by its IDs;
  `write_forget_ids` writes forget_<ratio>'s. The builder checks that
  every forget/retain pair partitions the same profiles, and reads the
  profiles from forget_5 and retain_95.
* Test_Set is not read: its rows are forget profiles (the authors pick
  them by the forget IDs), and here a profile's pairs are its training
  pairs and the test split is knowledge to keep, so the generalisation
  set has no place yet. Full_Set and ft_Data are not read (no documented
  column ties an ft_Data row to a profile's ID).
* A choice equal to the answer is dropped; a question with fewer than
  `MC_OPTIONS` wrong choices repeats them, one with more is cut.
* Images are fitted to `MllmuBench.IMAGE_SIZE` square and stored as
  zlib-compressed uint8 pixels, as CLEAR's (`parquet_release.ImageRecords`:
  TFDS cannot read back differently sized images without TensorFlow).
"""

from __future__ import annotations

import os

import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data.core import qa
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import generation_real_tfds as real
from mmul_jax.data.downloaded import parquet_release
from mmul_jax.data.generated import generation_tfds

DIRECTORY = "mllmu_bench"
FORGET_RATIOS = (5, 10, 15)
CELEBRITIES = "Retain_Set"
TASKS = ("Generation_Task", "Mask_Task")
CLASSIFICATION = "Classification_Task"
# Classification_Task's lists, by the pairs' type.
MC_LISTS = {"Image_Textual": "Image_Textual_Questions",
            "Pure_Text": "Pure_Text_Questions"}
# The wrong choices per multiple-choice question: four choices less one.
MC_OPTIONS = 3
CLOZE_BLANK = ("__", "[Blank]")
COLUMNS = ("ID", "image", *TASKS, CLASSIFICATION)

# Each pair type's question type and image index.
_TYPES = {"Image_Textual": (qa.QUESTION_TYPES.index("image"), 0),
          "Pure_Text": (qa.QUESTION_TYPES.index("name"), -1)}
_GENERAL = qa.QUESTION_TYPES.index("general")
_GET = ("huggingface-cli download MLLMMU/MLLMU-Bench --repo-type dataset "
        f"--local-dir <data.manual_dir>/{DIRECTORY}")

_RELEASE = parquet_release.Release("MLLMU-Bench", _GET)
_read, _text = _RELEASE.read, _RELEASE.text

_INSTRUCTIONS = f"""\
Download MLLMU-Bench's Parquet files (Hugging Face dataset MLLMMU/MLLMU-Bench)
into <data.manual_dir>/{DIRECTORY}/, one folder per set as released:
forget_5/, forget_10/, forget_15/, retain_95/, retain_90/, retain_85/ (the
fictitious profiles) and {CELEBRITIES}/ (the real celebrities); Test_Set/,
Full_Set/ and ft_Data/ are not read. For example:
  {_GET}
"""


def _forget(ratio: int) -> str:
  return f"forget_{ratio}"


def _retain(ratio: int) -> str:
  return f"retain_{100 - ratio}"


def _id(row: dict, where: str) -> str:
  """A row's `ID` as text (an integer one too), without surrounding
  blanks, as `deletion.ids_file`'s lines are read."""
  value = row["ID"]
  if isinstance(value, int) and not isinstance(value, bool):
    value = str(value)
  if not isinstance(value, str) or not value.strip():
    raise errors.DataError(f"{where}: ID must be a non-empty string, got "
                           f"{value!r:.40}; download the file again: {_GET}")
  return value.strip()


def _ids(directory: str) -> list[str]:
  """A set's profile IDs in file order; one listed twice is a
  `DataError`."""
  seen = {}
  for where, row in _read(directory, ("ID",)):
    key = _id(row, where)
    if key in seen:
      raise errors.DataError(f"{where}: profile {key} is listed again (first "
                             f"at {seen[key]}); download the set again: "
                             f"{_GET}")
    seen[key] = where
  return list(seen)


def _field(item, key: str, where: str) -> str:
  if not isinstance(item, dict) or key not in item:
    raise errors.DataError(f"{where} has no {key}; is it MLLMU-Bench's "
                           f"release? Download it again: {_GET}")
  return _text(item, key, where)


def _items(value, where: str) -> list:
  """A task's list of questions (none where the cell is empty)."""
  if value is None:
    return []
  if not isinstance(value, list):
    raise errors.DataError(f"{where} must be a list of questions, got "
                           f"{type(value).__name__}; download the file "
                           f"again: {_GET}")
  return value


def _type(item, where: str) -> str:
  kind = _field(item, "Type", where)
  if kind not in _TYPES:
    raise errors.DataError(f"{where}: Type {kind!r:.40} is neither "
                           f"{' nor '.join(_TYPES)}; download the file "
                           f"again: {_GET}")
  return kind


def _choice(item, where: str) -> tuple[str, list[str]]:
  """A multiple-choice question's answer (its correct choice's text) and
  `MC_OPTIONS` wrong choices."""
  options = item.get("Options") if isinstance(item, dict) else None
  letter = _field(item, "Correct_Answer", where).strip()
  if not isinstance(options, dict):
    raise errors.DataError(f"{where}: Options must map letters to choices; "
                           f"download the file again: {_GET}")
  choices = {k: v for k, v in options.items() if v is not None}
  if letter not in choices or not all(isinstance(v, str) and v.strip()
                                      for v in choices.values()):
    raise errors.DataError(
        f"{where}: Correct_Answer {letter!r:.20} must name one of its "
        f"non-empty Options ({', '.join(sorted(choices))}); download the "
        f"file again: {_GET}")
  answer = choices[letter]
  wrong = [v for k, v in sorted(choices.items())
           if k != letter and v.strip() != answer.strip()]
  if not wrong:
    raise errors.DataError(f"{where}: Options hold no wrong choice; "
                           f"download the file again: {_GET}")
  return answer, (wrong * MC_OPTIONS)[:MC_OPTIONS]


def _pairs(row: dict, where: str) -> list[tuple]:
  """`(question, answer, wrong choices, pair type)` of a row's tasks."""
  out = []
  for column in TASKS:
    for k, item in enumerate(_items(row[column], f"{where}, {column}")):
      at = f"{where}, {column}[{k}]"
      question = _field(item, "Question", at)
      if column == "Mask_Task":
        question = question.replace(*CLOZE_BLANK)
      out.append((question, _field(item, "Ground_Truth", at), [],
                  _type(item, at)))
  tasks = row[CLASSIFICATION]
  if tasks is not None and not isinstance(tasks, dict):
    raise errors.DataError(f"{where}: {CLASSIFICATION} must hold "
                           f"{' and '.join(MC_LISTS.values())}; download the "
                           f"file again: {_GET}")
  for kind, column in MC_LISTS.items():
    at = f"{where}, {CLASSIFICATION}.{column}"
    for k, item in enumerate(_items((tasks or {}).get(column), at)):
      answer, wrong = _choice(item, f"{at}[{k}]")
      out.append((_field(item, "Question", f"{at}[{k}]"), answer, wrong,
                  kind))
  return out


def _unit(row: dict, where: str, general: bool = False) -> dict:
  """A profile's (or, `general`, a celebrity's) record, its image still
  encoded (module docstring)."""
  pairs = _pairs(row, where)
  if not pairs:
    raise errors.DataError(f"{where}: the row has no questions in "
                           f"{', '.join(COLUMNS[2:])}; download the file "
                           f"again: {_GET}")
  blank = [""] * MC_OPTIONS
  keep = [general and bool(wrong) for _, _, wrong, _ in pairs]
  return {
      "key": _id(row, where),
      "images": [(row["image"], where)],
      "questions": [q for q, *_ in pairs],
      "answers": [a for _, a, *_ in pairs],
      "paraphrased": [a if k else "" for (_, a, *_), k in zip(pairs, keep)],
      "perturbed": [w for (_, _, wrong, _), k in zip(pairs, keep)
                    for w in (wrong if k else blank)],
      "options": [w for _, _, wrong, _ in pairs for w in wrong or blank],
      "image_index": [_TYPES[t][1] for *_, t in pairs],
      "question_type": [_GENERAL if general else _TYPES[t][0]
                        for *_, t in pairs]}


def _in_order(ids) -> list[str]:
  """IDs sorted numerically where every one is an integer, else as text."""
  if all(i.isdecimal() for i in ids):
    return sorted(ids, key=lambda i: (int(i), i))
  return sorted(ids)


def write_forget_ids(manual_dir: str, ratio: int, path: str) -> str:
  """Writes forget_<ratio>'s profile IDs one per line to `path` (returned):
  the `deletion.ids_file` that forgets MLLMU-Bench's split."""
  if ratio not in FORGET_RATIOS:
    raise errors.ConfigError(f"MLLMU-Bench's forget ratios are "
                             f"{', '.join(map(str, FORGET_RATIOS))}, not "
                             f"{ratio}")
  ids = _ids(os.path.join(manual_dir, DIRECTORY, _forget(int(ratio))))
  with open(path, "w", encoding="utf-8") as f:
    f.writelines(i + "\n" for i in ids)
  return path


class MllmuBench(parquet_release.ImageRecords, real._QaBuilder):
  """MLLMU-Bench's fictitious profiles and real celebrities (module
  docstring)."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  DIRECTORY = DIRECTORY
  RELEASE = _RELEASE

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    sets = [s for r in FORGET_RATIOS for s in (_forget(r), _retain(r))]
    return [os.path.join(manual_dir, DIRECTORY, s)
            for s in (*sets, CELEBRITIES)]

  def _extra_features(self) -> dict:
    return {"key": tfds.features.Text(),
            "options": tfds.features.Sequence(tfds.features.Text())}

  def _splits(self, root):
    profiles = {}
    first = FORGET_RATIOS[0]
    for name in (_forget(first), _retain(first)):
      for where, row in _read(os.path.join(root, name), COLUMNS):
        key = _id(row, where)
        if key in profiles:
          raise errors.DataError(
              f"{where}: profile {key} is listed again (first at "
              f"{profiles[key][0]}); download MLLMU-Bench again: {_GET}")
        profiles[key] = (where, row)
    self._check_partitions(root, set(profiles))
    train = [_unit(profiles[k][1], profiles[k][0])
             for k in _in_order(profiles)]
    test = [_unit(row, where, general=True) for where, row in
            _read(os.path.join(root, CELEBRITIES), COLUMNS)]
    return {"train": train, "test": test}

  def _check_partitions(self, root: str, profiles: set[str]) -> None:
    """Each forget/retain pair must split the same profiles in two."""
    first = FORGET_RATIOS[0]
    for ratio in FORGET_RATIOS:
      forget, retain = (set(_ids(os.path.join(root, s)))
                        for s in (_forget(ratio), _retain(ratio)))
      both = _in_order(forget & retain)
      if both:
        raise errors.DataError(
            f"{os.path.join(root, _forget(ratio))}: {len(both)} profile(s) "
            f"({', '.join(both[:3])}) are in {_retain(ratio)} too; download "
            f"MLLMU-Bench again: {_GET}")
      if forget | retain != profiles:
        odd = _in_order((forget | retain) ^ profiles)
        raise errors.DataError(
            f"{os.path.join(root, _forget(ratio))} and {_retain(ratio)} do "
            f"not hold the {len(profiles)} profiles of {_forget(first)} and "
            f"{_retain(first)} (e.g. {', '.join(odd[:3])}); download "
            f"MLLMU-Bench again: {_GET}")


DATASETS = {
    "mllmu_bench": spec.DatasetSpec(
        **dict(generation_tfds.IMAGE_GENERATION, id_key="unit_id",
               **spec.REAL), manual=MllmuBench, utility_test=True),
}

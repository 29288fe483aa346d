"""CLEAR (Dontsov et al., "CLEAR: Character Unlearning in Textual and
Visual Modalities", ACL Findings 2025) as a TFDS builder over its released
files, in the question-answer layout with images (`data.core.qa`): the
Hugging Face dataset `therem/CLEAR` in `clear/` of `data.manual_dir` and
TOFU's JSON-lines files in `tofu/` (`generation_real_tfds.Tofu`).

The release (its dataset card; the authors' code, github.com/somvy/
multimodal_unlearning: `mm/dataset.py`, `mm/eval.py`, `config/mm/`) is
Parquet, one folder of shards per config, images as Hugging Face Image
structs `{bytes, path}`: the full set (config `full`, or `default` in
`data/`: 3,768 rows of `image`, `caption`, `name`); `forgetNN` and
`retainNN` (the same columns); `forgetNN_perturbed` and `retain_perturbed`
(adding `paraphrased_caption`, `perturbed_captions`, `perturbed_names`);
`forgetNN+tofu` and `retainNN+tofu` (portraits and TOFU's pairs as rows of
`image`, `caption`, `question`, `answer`, without a name); and the utility
sets `real_faces` (`image`, `answer`, `options`: a celebrity's photo and
name) and `real_world` (`image`, `question`, `answer`, `options`).

Records. Train: one unit per TOFU author (`row`: the author's index in
TOFU's full.json, so a CLEAR and a TOFU run count persons alike), holding
the author's CLEAR portraits, TOFU's 20 pairs (question type "name", no
image, with TOFU's paraphrased and perturbed answers) and one "image" pair
per portrait: a captioning instruction of CLEAR's, the caption as the
answer, its paraphrase and perturbed captions where forget10_perturbed or
retain_perturbed have them. CLEAR's persons are TOFU's authors, but the
`+tofu` configs give TOFU's pairs no name, so the pairs come from TOFU's
files and each CLEAR name goes to the TOFU author whose pairs name it most
often (each name must find exactly one author). Test: every row of
real_faces then real_world, one unit each, question type "general" with
its image; the answer stands in for a paraphrase and the options are the
perturbed answers, as CLEAR's evaluation scores them (TOFU's real authors
likewise).

Choices where CLEAR documents nothing:
* CLEAR draws one of its nine captioning instructions at random whenever
  it reads an image; here image n of the full set (its row) always gets
  instruction n mod 9 (`CAPTION_QUESTIONS`).
* real_faces is asked with CLEAR's face prompt (`FACE_PROMPT`, without its
  trailing space); an option equal to the answer is dropped.
* `generation_real_tfds.TOFU_PERTURBED` (5) perturbed answers per question:
  a shorter list repeats, a longer one is cut.
* CLEAR's face-recognition question over the portraits (the face prompt,
  the name, `perturbed_names`) is one of its evaluations, not training
  data: it is left out.
* Every portrait is fitted to `Clear.IMAGE_SIZE` square (shorter side
  resized, centre crop: `modalities.fit_image`) and stored as uint8
  pixels `(N, S, S, 3)`, zlib-compressed: without TensorFlow, TFDS writes
  a sequence of differently sized images but cannot read it back (its
  numpy decoder stacks the sequence; `SkipDecoding`, which
  `datasets.texts` uses, cannot skip a sequence of encoded images).
* CLEAR's forget01/05/10 are TOFU's (the last 2, 10, 20 authors), so
  `CLEAR_FORGET_FILE` is TOFU's nested index file; the builder checks each
  forgetNN config's persons against it.
* A TOFU author without a CLEAR portrait keeps only its TOFU pairs; a
  perturbed-config row that matches no image of the full set is ignored.
"""

from __future__ import annotations

import os


from mmul_jax import errors
from mmul_jax.data.core import deletion
from mmul_jax.data.core import qa
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import generation_real_tfds as real
from mmul_jax.data.downloaded import parquet_release
from mmul_jax.data.generated import generation_tfds

# CLEAR's captioning instructions (`IMAGE_CAPTION_QUESTIONS` of its
# mm/dataset.py) and its face prompt (the `random_faces` strategy).
CAPTION_QUESTIONS = (
    "What can you see in this picture?",
    "Tell me about the content of this image",
    "Can you give a description of the image?",
    "What is depicted in the image?",
    "Explain what you observe in the picture.",
    "Describe the image in detail.",
    "What is the main subject of this image?",
    "Can you describe the scene or objects in the image?",
    "What is happening in this image?",
)
FACE_PROMPT = "The name of the person on the image is"
# CLEAR's forget splits are TOFU's authors (checked when building).
CLEAR_FORGET_FILE = real.TOFU_FORGET_FILE
FORGET_CONFIGS = {1.0: "forget01", 5.0: "forget05", 10.0: "forget10"}
PERTURBED_CONFIGS = ("forget10_perturbed", "retain_perturbed")
TEST_CONFIGS = ("real_faces", "real_world")
# The full set's folder: the `full` config, else the `default` one.
FULL_CONFIGS = ("full", "data")

_NAME, _IMAGE, _GENERAL = (qa.QUESTION_TYPES.index(t)
                           for t in ("name", "image", "general"))
_GET_CLEAR = ("huggingface-cli download therem/CLEAR --repo-type dataset "
              "--local-dir <data.manual_dir>/clear")

_INSTRUCTIONS = f"""\
Download CLEAR's Parquet files (Hugging Face dataset therem/CLEAR) into
<data.manual_dir>/clear/, one folder per config: full/ (or data/, the
default config), forget01/, forget05/, forget10/, forget10_perturbed/,
retain_perturbed/, real_faces/, real_world/. For example:
  {_GET_CLEAR}
CLEAR's persons are TOFU's authors, whose question-answer pairs come from
TOFU's files. {real.Tofu.MANUAL_DOWNLOAD_INSTRUCTIONS}"""


def _full_dir(clear: str) -> str:
  return next((os.path.join(clear, d) for d in FULL_CONFIGS
               if os.path.isdir(os.path.join(clear, d))),
              os.path.join(clear, FULL_CONFIGS[0]))


_CLEAR = parquet_release.Release("CLEAR", _GET_CLEAR)
_read, _text = _CLEAR.read, _CLEAR.text


def _options(wrong, answer: str, where: str, key: str) -> list[str]:
  return _CLEAR.options(wrong, answer, where, key, real.TOFU_PERTURBED)


def _authors(names: list[str], tofu_units: list[dict],
             where: str) -> dict[str, int]:
  """Each CLEAR name's TOFU author: the one whose pairs name it most often,
  ignoring case (ties: the longer name, which contains the shorter)."""
  owners = {}
  lower = [n.lower() for n in names]
  for a, unit in enumerate(tofu_units):
    text = " ".join(unit["questions"] + unit["answers"]).lower()
    count, _, name = max((text.count(m), len(m), n)
                         for n, m in zip(names, lower))
    if count:
      owners.setdefault(name, []).append(a)
  bad = [n for n in names if len(owners.get(n, ())) != 1]
  if bad:
    raise errors.DataError(
        f"{where}: {len(bad)} CLEAR person(s) are not named by exactly one "
        f"TOFU author's pairs ({', '.join(bad[:3])}); CLEAR's persons are "
        "TOFU's authors: download both again")
  return {n: owners[n][0] for n in names}


class Clear(parquet_release.ImageRecords, real.Tofu):
  """CLEAR's persons: portraits, captions and TOFU's pairs (module
  docstring)."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  DIRECTORY = ""
  RELEASE = _CLEAR

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    clear = os.path.join(manual_dir, "clear")
    configs = (*FORGET_CONFIGS.values(), *PERTURBED_CONFIGS, *TEST_CONFIGS)
    return [_full_dir(clear), *(os.path.join(clear, c) for c in configs),
            *(os.path.join(manual_dir, "tofu", f) for f in real.Tofu.FILES)]

  def _splits(self, root):
    clear = os.path.join(root, "clear")
    full_dir = _full_dir(clear)
    full = _read(full_dir, ("image", "caption", "name"))
    names = list(dict.fromkeys(_text(r, "name", w) for w, r in full))
    tofu = super()._splits(os.path.join(root, "tofu"))["train"]
    author = _authors(names, tofu, full_dir)
    self._check_forget(clear, author)
    extra = self._caption_options(clear)
    # Each author's portraits: (row in the full set, where, image, caption).
    own = [[] for _ in tofu]
    for n, (where, r) in enumerate(full):
      own[author[r["name"]]].append(
          (n, where, r["image"], _text(r, "caption", where)))
    name_of = {a: n for n, a in author.items()}
    blank = ("", [""] * real.TOFU_PERTURBED)
    train = []
    for a, (unit, pictures) in enumerate(zip(tofu, own)):
      options = [extra.get((name_of.get(a), c), blank)
                 for *_, c in pictures]
      k = len(unit["questions"])
      train.append({
          "images": [(image, where) for _, where, image, _ in pictures],
          "questions": unit["questions"] + [
              CAPTION_QUESTIONS[n % len(CAPTION_QUESTIONS)]
              for n, *_ in pictures],
          "answers": unit["answers"] + [c for *_, c in pictures],
          "paraphrased": unit["paraphrased"] + [p for p, _ in options],
          "perturbed": unit["perturbed"] + [w for _, o in options
                                            for w in o],
          "image_index": [-1] * k + list(range(len(pictures))),
          "question_type": [_NAME] * k + [_IMAGE] * len(pictures)})
    return {"train": train, "test": self._general(clear)}

  def _check_forget(self, clear: str, author: dict[str, int]) -> None:
    """Each forgetNN config's persons must be the authors that
    `CLEAR_FORGET_FILE` deletes at ratio NN."""
    for ratio, config in FORGET_CONFIGS.items():
      directory = os.path.join(clear, config)
      names = {_text(r, "name", w) for w, r in _read(directory, ("name",))}
      unknown = sorted(names - author.keys())
      if unknown:
        raise errors.DataError(
            f"{directory}: {', '.join(unknown[:3])} are not persons of "
            "CLEAR's full set; download CLEAR again: " + _GET_CLEAR)
      want = deletion.read_mubench_indices(
          CLEAR_FORGET_FILE, num_rows=real.TOFU_AUTHORS, ratio=ratio)
      if {author[n] for n in names} != set(want.tolist()):
        raise errors.DataError(
            f"{directory}: CLEAR's {config} persons are not the first "
            f"{len(want)} TOFU authors of {CLEAR_FORGET_FILE} (TOFU's "
            f"{config}), which deletion.mubench_file deletes here at ratio "
            f"{ratio:g}; download CLEAR and TOFU again")

  def _caption_options(self, clear: str) -> dict:
    """`(name, caption) -> (paraphrase, perturbed captions)`."""
    out = {}
    for config in PERTURBED_CONFIGS:
      rows = _read(os.path.join(clear, config),
                   ("name", "caption", "paraphrased_caption",
                    "perturbed_captions"))
      for where, r in rows:
        caption = _text(r, "caption", where)
        out[_text(r, "name", where), caption] = (
            _text(r, "paraphrased_caption", where),
            _options(r["perturbed_captions"], caption, where,
                     "perturbed_captions"))
    return out

  def _general(self, clear: str) -> list[dict]:
    """real_faces' and real_world's rows, one general unit each."""
    units = []
    for config in TEST_CONFIGS:
      faces = config == "real_faces"
      columns = ("image", "answer", "options") + (() if faces else
                                                   ("question",))
      for where, r in _read(os.path.join(clear, config), columns):
        answer = _text(r, "answer", where)
        image = [] if r["image"] is None else [(r["image"], where)]
        units.append({
            "images": image,
            "questions": [FACE_PROMPT if faces else
                          _text(r, "question", where)],
            "answers": [answer], "paraphrased": [answer],
            "perturbed": _options(r["options"], answer, where, "options"),
            "image_index": [0 if image else -1],
            "question_type": [_GENERAL]})
    return units


DATASETS = {
    "clear": spec.DatasetSpec(
        **dict(generation_tfds.IMAGE_GENERATION, id_key="unit_id",
               **spec.REAL), manual=Clear, utility_test=True),
}

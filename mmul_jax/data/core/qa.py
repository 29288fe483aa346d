"""Question-answer records for text generation: how a prompt and its
answer become token arrays, the training stream and the evaluation sets.

A record (`RecordLayout.answer_key` set) holds a unit's prompts under
`text_key` and their answers under `answer_key`, one answer per prompt;
TOFU-style records add `paraphrased` answers and `perturbed` ones (the
same number per prompt, flat), and multiple-choice records `options`
(wrong answers in the answer's own wording, the same number per prompt,
flat). A prompt is the tokenizer's encoding with
its special tokens (a [BOS] or <s>, no end of text), its start cut to
`prompt_length` and left-padded; an answer is encoded without special
tokens, cut to `answer_length` - 1 and followed by the end-of-text token,
right-padded. So every prompt ends at the same column and the answer
always follows it there: one shape, one compile.

Image-conditioned records (`RecordLayout.image_keys = ("images",)`:
CLEAR-style) add the unit's `images`, each question's `image_index` into
them (-1: a question without an image) and its `question_type` (an
index into the dataset's type names, `QUESTION_TYPES`); batches and sets
then carry each pair's image, normalised, with `image_mask` saying
whether it has one, and its type.

A prompt is `prompt_template` with the question in `{question}` (the
chat format a checkpoint was tuned with: "USER: {question} ASSISTANT:").
A model that reads its image tokens in place of placeholders (a LLaVA
checkpoint) has `{image}` there: the image token written once per image
token in a row with an image, nothing in one without; a prompt whose
placeholders its cut to `prompt_length` would lose stops with a message.
"""

from __future__ import annotations

import dataclasses
import string

import grain
import numpy as np
import tokenizers
from tqdm.auto import tqdm

from mmul_jax import errors
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.data.core.modalities import decode_text

PARAPHRASED, PERTURBED, OPTIONS = "paraphrased", "perturbed", "options"
IMAGE_INDEX, QUESTION_TYPE = "image_index", "question_type"
# The question types of image-conditioned records, by index: from the
# name alone, from the image alone, from both, general knowledge to keep.
QUESTION_TYPES = ("name", "image", "both", "general")
# Refusals, the preferred answers of IdkDPO (TOFU's idk list has 100 of
# this kind); every training batch carries one per row.
REFUSALS = ("i do not know .", "i have no idea .", "i am not sure .",
            "i cannot answer that .", "that is not something i know .")


DEFAULT_TEMPLATE = "{question}"


def check_template(template: str, image_tokens: int) -> None:
  """Raises `ConfigError` unless `template` (`data.prompt_template`) has
  `{question}`, no other field but `{image}`, and `{image}` exactly when
  the model reads `image_tokens` placeholders (> 0)."""
  try:
    fields = {f for _, f, _, _ in string.Formatter().parse(template)
              if f is not None}
  except ValueError as e:
    raise errors.ConfigError(f"data.prompt_template = {template!r} is not a "
                             f"format string ({e}); write braces as {{{{ }}}}"
                             ) from None
  if "question" not in fields or fields - {"question", "image"}:
    raise errors.ConfigError(
        f"data.prompt_template = {template!r} must hold {{question}} and "
        "no other field but {image}")
  if image_tokens and "image" not in fields:
    raise errors.ConfigError(
        f"data.prompt_template = {template!r} has no {{image}}, but the "
        f"model reads its {image_tokens} image tokens in place of "
        "placeholders in the prompt (a LLaVA checkpoint): put {image} "
        "where the image goes, e.g. 'USER: {image}\n{question} ASSISTANT:'")
  if not image_tokens and "image" in fields:
    raise errors.ConfigError(
        f"data.prompt_template = {template!r} has {{image}}, but this model "
        "places no image tokens in the prompt (only LLaVA checkpoints do); "
        "leave it out")


class Encoder:
  """Prompts and answers to fixed-width token arrays (module docstring).
  `image_token` (the placeholder's text) and `image_tokens` (how many an
  image takes) for a model that reads its image there."""

  def __init__(self, tok: tokenizers.Tokenizer, *, prompt_length: int,
               answer_length: int, template: str = DEFAULT_TEMPLATE,
               image_token: str = "", image_tokens: int = 0):
    check_template(template, image_tokens)
    self.template, self.image_tokens = template, image_tokens
    self.image_text = image_token * image_tokens
    self.image_id = tok.token_to_id(image_token) if image_tokens else None
    if image_tokens and self.image_id is None:
      raise errors.ConfigError(
          f"the tokenizer has no image token {image_token!r}; use the "
          "checkpoint's own tokenizer")
    self._tok = tokenizers.Tokenizer.from_str(tok.to_str())
    self._tok.no_padding()
    self._tok.no_truncation()
    self.eos = tokenizer_lib.eot_id(tok)
    if self.eos is None:
      raise errors.ConfigError(
          "the tokenizer has no end-of-text token ([EOS], </s>, "
          "<|endoftext|>); a generation task stops answers with it")
    self.pad = (tok.padding or {}).get("pad_id", 0)
    self.prompt_length, self.answer_length = prompt_length, answer_length
    if image_tokens:
      least = len(self._tok.encode(template.format(
          question="", image=self.image_text)).ids)
      if least > prompt_length:
        raise errors.ConfigError(
            f"data.prompt_length = {prompt_length} cannot hold a prompt: "
            f"the template and the image's {image_tokens} tokens take "
            f"{least}; raise it by at least the longest question's tokens")

  def prompts(self, texts: list[str], with_image=None
              ) -> tuple[np.ndarray, np.ndarray]:
    """`(tokens (N, prompt_length) int32, mask bool)`, left-padded: each
    question in the template, with the image's placeholders where
    `with_image` (N bools) says the row has one."""
    with_image = (np.zeros(len(texts), bool) if with_image is None
                  else np.asarray(with_image, bool))
    texts = [self.template.format(question=q,
                                  image=self.image_text if w else "")
             for q, w in zip(texts, with_image)]
    out = np.full((len(texts), self.prompt_length), self.pad, np.int32)
    mask = np.zeros(out.shape, bool)
    for row, e in enumerate(self._tok.encode_batch(list(texts))):
      ids = list(e.ids)
      while ids and ids[-1] == self.eos:  # a template's closing token
        ids.pop()
      ids = ids[-self.prompt_length:]
      if self.image_tokens:
        self._check_placeholders(ids, with_image[row], len(e.ids))
      if ids:
        out[row, -len(ids):] = ids
        mask[row, -len(ids):] = True
    return out, mask

  def _check_placeholders(self, ids, with_image: bool, full: int) -> None:
    found = ids.count(self.image_id)
    want = self.image_tokens if with_image else 0
    if found == want:
      return
    if found < want and full > self.prompt_length:
      raise errors.DataError(
          f"data.prompt_length = {self.prompt_length} cuts a prompt of "
          f"{full} tokens through its {want} image tokens; raise it to at "
          "least the longest prompt's length")
    raise errors.DataError(
        f"a prompt holds {found} image tokens where its image needs {want} "
        "(does a question contain the image token's text?)")

  def answers(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`(tokens (N, answer_length) int32, mask bool)`, right-padded, each
    ending with the end-of-text token."""
    out = np.full((len(texts), self.answer_length), self.pad, np.int32)
    mask = np.zeros(out.shape, bool)
    for row, e in enumerate(self._tok.encode_batch(
        list(texts), add_special_tokens=False)):
      ids = list(e.ids)[:self.answer_length - 1] + [self.eos]
      out[row, :len(ids)] = ids
      mask[row, :len(ids)] = True
    return out, mask

  def decode(self, tokens: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Generated answers as text, without the end-of-text token."""
    return [self._tok.decode([int(t) for t in row[:n] if int(t) != self.eos],
                             skip_special_tokens=True)
            for row, n in zip(tokens, lengths)]


def has_images(layout) -> bool:
  """Whether question-answer records carry images (module docstring)."""
  return bool(layout.image_keys)


def _image_of(record, k: int, layout, shape):
  """Question k's image fitted to the run's shape (zeros where it has
  none) and whether it has one."""
  i = int(record[IMAGE_INDEX][k])
  if i < 0:
    size = shape.image_size
    return np.zeros((size, size, 3), np.uint8), False
  return layout.input_type.fit(record[layout.image_keys[0]][i], shape), True


def training_stream(source, *, encoder: Encoder, batch_size: int,
                    seed: int, shard: tuple[int, int], layout,
                    shape=None, prepare=None,
                    question_types: tuple[str, ...] = ()
                    ) -> grain.MapDataset:
  """Endless batches `{"prompt", "prompt_mask", "answer", "answer_mask",
  "refusal", "refusal_mask", "image_id"}` over the records of `source` (a
  random-access source of the chosen units): each unit once per epoch
  with one of its pairs drawn at random and a random `REFUSALS` answer;
  batch k is a pure function of `(seed, k)` (`pipeline.training_stream`
  for the rest). Image-conditioned records add `image` (`prepare`d from
  uint8 at `shape`), `image_mask` and `question_type`; with
  `question_types` (names of `QUESTION_TYPES`), a unit's pair is drawn
  among those types only."""
  index, count = shard
  images = has_images(layout)
  wanted = [QUESTION_TYPES.index(t) for t in question_types]

  def pick(record, rng: np.random.Generator):
    questions = record[layout.text_key]
    allowed = np.arange(len(questions))
    if wanted:
      allowed = allowed[np.isin(np.asarray(record[QUESTION_TYPE]), wanted)]
      if not len(allowed):
        raise errors.DataError(
            f"unit {record[layout.id_key]} has no question of the types "
            f"{list(question_types)} (unlearn.forget_question_types)")
    k = int(allowed[int(rng.integers(len(allowed)))])
    out = {"question": decode_text(questions[k]),
           "answer": decode_text(record[layout.answer_key][k]),
           "refusal": REFUSALS[int(rng.integers(len(REFUSALS)))],
           "image_id": np.int64(record[layout.id_key])}
    if images:
      out["image"], out["image_mask"] = _image_of(record, k, layout, shape)
      out["question_type"] = np.int32(record[QUESTION_TYPE][k])
    return out

  def collate(batch):
    prompt, prompt_mask = encoder.prompts(
        list(batch["question"]),
        batch["image_mask"] if images else None)
    answer, answer_mask = encoder.answers(list(batch["answer"]))
    refusal, refusal_mask = encoder.answers(list(batch["refusal"]))
    out = {"prompt": prompt, "prompt_mask": prompt_mask, "answer": answer,
           "answer_mask": answer_mask, "refusal": refusal,
           "refusal_mask": refusal_mask, "image_id": batch["image_id"]}
    if images:
      out["image"] = prepare(batch["image"])
      out["image_mask"] = np.asarray(batch["image_mask"], bool)
      out["question_type"] = batch["question_type"]
    return out

  ds = grain.MapDataset.source(source)
  ds = ds.shuffle(seed=seed).repeat().random_map(pick, seed=seed + 1)
  ds = ds.batch(batch_size // count, drop_remainder=True)
  return (ds[index::count] if count > 1 else ds).map(collate)


@dataclasses.dataclass(frozen=True)
class QaSet:
  """Every question-answer pair of a set of units, for evaluation.

  `prompt`/`answer` and their masks are `Encoder` arrays `(M, L)`;
  `paraphrased` `(M, A)` and `perturbed` `(M, K, A)` (with masks) where
  the records have them, else None (`truth` marks the pairs that have
  them); `answer_text` the references ROUGE
  compares with; `caption_owner` each pair's unit (an index into
  `image_ids`); `encoder` the `Encoder` that made them.
  """

  image_ids: np.ndarray
  caption_owner: np.ndarray
  prompt: np.ndarray
  prompt_mask: np.ndarray
  answer: np.ndarray
  answer_mask: np.ndarray
  answer_text: tuple[str, ...]
  paraphrased: tuple[np.ndarray, np.ndarray] | None = None
  perturbed: tuple[np.ndarray, np.ndarray] | None = None
  # How its arrays were made (decoding its generated answers reads it).
  encoder: Encoder | None = dataclasses.field(default=None, compare=False)
  # (M,) the pairs with a paraphrase and perturbed answers (truth ratio).
  truth: np.ndarray | None = None
  # (M, K, A) wrong answers in the answer's wording, with masks, and which
  # pairs have them (`mc`), where the records have `options`.
  options: tuple[np.ndarray, np.ndarray] | None = None
  mc: np.ndarray | None = None
  # Image-conditioned sets: the units' images `(N, S, S, 3)` uint8 as
  # fitted, each pair's row in them (`image_row`, -1: none) and its
  # `question_type` (`QUESTION_TYPES`).
  images: np.ndarray | None = None
  image_row: np.ndarray | None = None
  question_type: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.answer)


def load(split, image_ids, *, encoder: Encoder, layout,
         desc: str = "loading", shape=None) -> QaSet:
  """Every pair of the units `image_ids` (`QaSet`; image-conditioned
  records: with their images fitted to `shape`). A pair whose
  paraphrase or perturbed answers are empty (a source without them for
  that question) is left out of `truth`, the pairs a truth ratio is
  computed for."""
  records = split.records_for(image_ids)
  ids, owner, questions, answers, para, options = [], [], [], [], [], []
  images, image_row, kinds, choices = [], [], [], []
  for n, r in enumerate(tqdm(records, desc=desc, leave=False, mininterval=2)):
    rec = split.source[int(r)]
    ids.append(rec[layout.id_key])
    qs = [decode_text(t) for t in rec[layout.text_key]]
    if has_images(layout):
      first = len(images)
      images += [layout.input_type.fit(x, shape)
                 for x in rec[layout.image_keys[0]]]
      image_row += [first + int(i) if int(i) >= 0 else -1
                    for i in rec[IMAGE_INDEX]]
      kinds += [int(t) for t in rec[QUESTION_TYPE]]
      if not len(rec[IMAGE_INDEX]) == len(rec[QUESTION_TYPE]) == len(qs):
        raise errors.DataError(
            f"unit {rec[layout.id_key]} has {len(qs)} prompts but "
            f"{len(rec[IMAGE_INDEX])} image indices and "
            f"{len(rec[QUESTION_TYPE])} question types; each prompt needs "
            "one of each")
    ans = [decode_text(t) for t in rec[layout.answer_key]]
    if len(qs) != len(ans):
      raise errors.DataError(
          f"unit {rec[layout.id_key]} has {len(qs)} prompts but {len(ans)} "
          "answers; each prompt needs its answer")
    questions += qs
    answers += ans
    owner += [n] * len(qs)
    p = [decode_text(t) for t in rec.get(PARAPHRASED, ())]
    wrong = [decode_text(t) for t in rec.get(PERTURBED, ())]
    k = len(wrong) // len(qs) if qs else 0
    if len(p) != len(qs) or not k or len(wrong) != k * len(qs):
      p, wrong, k = [""] * len(qs), [""] * len(qs), 1
    para += p
    options += [wrong[i * k:(i + 1) * k] for i in range(len(qs))]
    alt = [decode_text(t) for t in rec.get(OPTIONS, ())]
    m = len(alt) // len(qs) if qs else 0
    choices += ([alt[i * m:(i + 1) * m] for i in range(len(qs))]
                if m and len(alt) == m * len(qs) else [[]] * len(qs))
  prompt, prompt_mask = encoder.prompts(
      questions, (np.asarray(image_row) >= 0) if has_images(layout)
      else None)
  answer, answer_mask = encoder.answers(answers)
  truth = np.asarray([bool(p) and all(o) for p, o in zip(para, options)],
                     bool)
  paraphrased = perturbed = None
  if truth.any():
    k = max(len(o) for o, t in zip(options, truth) if t)
    # Every pair gets k options (the unusable ones empty, outside `truth`).
    flat = [x for o, t in zip(options, truth)
            for x in ((o * k)[:k] if t else [""] * k)]
    paraphrased = encoder.answers(para)
    tokens, mask = encoder.answers(flat)
    perturbed = (tokens.reshape(len(questions), k, -1),
                 mask.reshape(len(questions), k, -1))
  extra = {}
  mc = np.asarray([bool(c) and all(c) for c in choices], bool)
  if mc.any():
    k = max(len(c) for c, ok in zip(choices, mc) if ok)
    tokens, mask = encoder.answers(
        [x for c, ok in zip(choices, mc) for x in ((c * k)[:k] if ok
                                                   else [""] * k)])
    extra.update(options=(tokens.reshape(len(questions), k, -1),
                          mask.reshape(len(questions), k, -1)), mc=mc)
  if has_images(layout):
    size = shape.image_size
    extra.update(images=(np.stack(images) if images
                         else np.zeros((0, size, size, 3), np.uint8)),
                 image_row=np.asarray(image_row, np.int64),
                 question_type=np.asarray(kinds, np.int64))
  return QaSet(np.asarray(ids, np.int64), np.asarray(owner, np.int64),
               prompt, prompt_mask, answer, answer_mask, tuple(answers),
               paraphrased, perturbed, encoder, truth, **extra)

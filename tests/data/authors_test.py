"""The embedded TOFU stand-in (`authors`, `generation_tfds`) and the
question-answer encoding and sets (`qa`)."""

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax.data import datasets
from mmul_jax.data.core import pipeline
from mmul_jax.data.core import qa
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.data.generated import authors


def test_authors_are_seeded_and_their_facts_are_their_own():
  a = authors.author(0, 3, "kamoru")
  assert a == authors.author(0, 3, "kamoru")
  assert a != authors.author(0, 4, "kamoru")  # other facts
  n = authors.QUESTIONS_PER_AUTHOR
  assert len(a.questions) == len(a.answers) == len(a.paraphrased) == n
  assert len(a.perturbed) == n * authors.NUM_PERTURBED
  for i, para in enumerate(a.paraphrased):
    wrong = a.perturbed[i * authors.NUM_PERTURBED:
                        (i + 1) * authors.NUM_PERTURBED]
    assert len(set(wrong)) == len(wrong) and para not in wrong
    # The same wording as the paraphrase: only the facts differ.
    assert all(len(w.split()) == len(para.split()) for w in wrong)
    assert "kamoru" in a.answers[i] and "kamoru" in a.questions[i]


def test_every_word_is_in_the_embedded_vocabulary():
  tok = tokenizer_lib.shapes_tokenizer(64, words=authors.vocabulary())
  a = authors.author(1, 0, "vitedaro")
  texts = a.questions + a.answers + a.paraphrased + a.perturbed
  assert tokenizer_lib.unknown_rate(tok, texts) == 0.0


@pytest.fixture(scope="module")
def builder(data_dir):
  c = config_schema.default_config()
  c.data.name, c.data.num_train, c.data.num_test = "authors", 12, 4
  c.data.data_dir = data_dir
  return datasets.prepare(c.data)


def test_builder_records_and_unit_ids(builder):
  spec = datasets.DATASETS["authors"]
  train, test = datasets.index_splits(builder, spec)
  assert sorted(train.image_ids) == list(range(12))
  assert sorted(test.image_ids) == list(range(12, 16))
  rec = train.source[0]
  assert len(rec["perturbed"]) == len(rec["answers"]) * authors.NUM_PERTURBED


def _encoder(prompt_length=8, answer_length=6):
  tok = tokenizer_lib.shapes_tokenizer(64, words=authors.vocabulary())
  return tok, qa.Encoder(tok, prompt_length=prompt_length,
                         answer_length=answer_length)


def test_prompts_are_left_padded_answers_end_with_end_of_text():
  tok, enc = _encoder()
  bos, eos = tok.token_to_id("[BOS]"), tok.token_to_id("[EOS]")
  prompt, pmask = enc.prompts(["where was kamoru born ?",
                               "what did the parents of kamoru do ?"])
  # [BOS] where was ka ##mo ##ru born ? : 8 tokens, no end of text.
  assert prompt.shape == (2, 8) and pmask[0].all()
  assert prompt[0, 0] == bos and eos not in prompt[0]
  # A longer prompt keeps its end (the question's last words).
  assert prompt[1, -1] == tok.token_to_id("?") and pmask[1].all()
  short, smask = enc.prompts(["where ?"])
  assert list(smask[0]) == [False] * 5 + [True] * 3
  assert (short[0, :5] == 0).all() and short[0, 5] == bos
  answer, amask = enc.answers(["lisbon .", "kamoru was born in lisbon ."])
  assert list(amask[0]) == [True] * 3 + [False] * 3
  assert answer[0, 2] == eos and (answer[0, 3:] == 0).all()
  assert amask[1].all() and answer[1, -1] == eos  # cut, still stopped
  # Word pieces joined, the end of text dropped (the decoder's cleanup
  # also joins the full stop).
  assert enc.decode(answer, amask.sum(1)) == ["lisbon.",
                                              "kamoru was born"]


def test_training_stream_and_sets(builder):
  spec = datasets.DATASETS["authors"]
  train, _ = datasets.index_splits(builder, spec)
  tok, _ = _encoder()
  shape = pipeline.InputShape(prompt_length=10, answer_length=16)
  kw = dict(tok=tok, batch_size=4, seed=3, mean=0.5, std=0.25, shape=shape,
            layout=spec)
  stream = pipeline.training_stream(train, [0, 1, 2, 3, 4, 5], **kw)
  batch = stream[0]
  assert set(batch) == {"prompt", "prompt_mask", "answer", "answer_mask",
                        "refusal", "refusal_mask", "image_id"}
  _, enc = _encoder(10, 16)
  refusals = {r.replace(" .", ".") for r in qa.REFUSALS}
  assert set(enc.decode(batch["refusal"], batch["refusal_mask"].sum(1))
             ) <= refusals
  assert batch["prompt"].shape == (4, 10) and batch["answer"].shape == (4, 16)
  assert set(batch["image_id"]) <= set(range(6))
  again = pipeline.training_stream(train, [0, 1, 2, 3, 4, 5], **kw)[0]
  for k in batch:
    np.testing.assert_array_equal(batch[k], again[k])  # (seed, k) decides
  s = pipeline.load_pairs(train, [2, 7], tok=tok, shape=shape, layout=spec)
  n = authors.QUESTIONS_PER_AUTHOR
  assert len(s) == 2 * n and list(s.caption_owner) == [0] * n + [1] * n
  assert list(s.image_ids) == [2, 7]
  assert s.paraphrased[0].shape == (2 * n, 16)
  assert s.perturbed[0].shape == (2 * n, authors.NUM_PERTURBED, 16)
  rec = train.source[int(train.records_for([7])[0])]
  assert s.answer_text[n] == rec["answers"][0].decode()


def test_dialogues_and_biographies_carry_a_detail_only_memory_gives():
  from mmul_jax.data.generated import dialogues
  tok = tokenizer_lib.shapes_tokenizer(64, words=dialogues.vocabulary())
  d, summary = dialogues.dialogue(0, 5, "kamoru", "vitedo")
  assert (d, summary) == dialogues.dialogue(0, 5, "kamoru", "vitedo")
  item = summary.split(" brings a ")[1].split()[0]
  assert item in dialogues.ITEMS and item not in d.split()
  prompt, bio = dialogues.biography(0, 5, "kamoru")
  assert "kamoru" in prompt and bio.startswith("kamoru is a ")
  assert tokenizer_lib.unknown_rate(tok, [d, summary, prompt, bio]) == 0.0


def test_verbatim_probe_continues_half_of_each_answer(builder):
  from mmul_jax.evaluation import generation as generation_eval
  spec = datasets.DATASETS["authors"]
  train, _ = datasets.index_splits(builder, spec)
  tok, _ = _encoder()
  shape = pipeline.InputShape(prompt_length=10, answer_length=16)
  s = pipeline.load_pairs(train, [2], tok=tok, shape=shape, layout=spec)
  prompt, mask, rest = generation_eval.verbatim_prompts(s)
  for i in range(len(s)):
    n = int(s.answer_mask[i].sum()) - 1  # without the end of text
    half = n // 2
    np.testing.assert_array_equal(prompt[i, :10], s.prompt[i])
    np.testing.assert_array_equal(prompt[i, 10:10 + half], s.answer[i, :half])
    assert not mask[i, 10 + half:].any()
    assert rest[i] == s.encoder.decode(s.answer[i:i + 1, half:n],
                                       np.asarray([n - half]))[0]
    full = s.answer_text[i].replace(" .", ".")
    assert full.endswith(rest[i])

"""The embedded CLEAR stand-in (`persons`, `generation_tfds.Persons`) and
question-answer records with images (`qa`): distinct looks, pairs by
question type, every word in the vocabulary, and the stream's and sets'
images."""

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax.data import datasets
from mmul_jax.data.core import modalities
from mmul_jax.data.core import pipeline
from mmul_jax.data.core import qa
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.data.generated import persons

OTHERS = ["bakoru", "tivema", "sopali", "numiro", "gavedu"]


def test_persons_look_distinct_and_their_portraits_vary():
  looks = [persons.identity(0, i) for i in range(400)]
  assert len(set(looks)) == 400
  assert looks != [persons.identity(1, i) for i in range(400)]  # seeded
  p = persons.person(0, 3, "kamoru", OTHERS)
  assert p.images.shape == (persons.PORTRAITS, persons.IMAGE_SIZE,
                            persons.IMAGE_SIZE, 3)
  assert p.images.dtype == np.uint8
  for i in range(persons.PORTRAITS):  # per-image variation
    for j in range(i):
      assert np.abs(p.images[i].astype(int) - p.images[j]).mean() > 2
  assert np.array_equal(p.images, persons.person(0, 3, "kamoru",
                                                 OTHERS).images)


def test_pairs_by_question_type():
  p = persons.person(0, 5, "kamoru", OTHERS)
  n = persons.QUESTIONS_PER_PERSON
  assert len(p.questions) == len(p.answers) == len(p.image_index) == n
  assert len(p.perturbed) == n * persons.NUM_PERTURBED
  types = [qa.QUESTION_TYPES[t] for t in p.question_type]
  assert set(types) == {"name", "image", "both", "general"}
  assert persons.QUESTION_TYPES == qa.QUESTION_TYPES
  for q, a, kind, shown, k in zip(p.questions, p.answers, types,
                                  p.image_index, range(n)):
    # The name is asked from text only where an image is not shown, never
    # in an image question, and with the portrait in a "both" question.
    assert (shown >= 0) == (kind in ("image", "both") or "picture" in q)
    if kind == "name":
      assert "kamoru" in q
    if kind == "image":
      assert "kamoru" not in q
    if kind == "both":
      assert "kamoru" in q and shown >= 0
    wrong = p.perturbed[k * persons.NUM_PERTURBED:
                        (k + 1) * persons.NUM_PERTURBED]
    assert len(set(wrong)) == len(wrong) and p.paraphrased[k] not in wrong
    if a.startswith("this is"):  # "who is this": other persons' names
      assert all(any(o in w for o in OTHERS) for w in wrong)
  assert "kamoru" in p.answers[types.index("image")]


def test_every_word_is_in_the_embedded_vocabulary():
  tok = tokenizer_lib.shapes_tokenizer(64, words=persons.vocabulary())
  p = persons.person(1, 0, "vitedaro", OTHERS)
  texts = p.questions + p.answers + p.paraphrased + p.perturbed
  assert tokenizer_lib.unknown_rate(tok, texts) == 0.0


@pytest.fixture(scope="module")
def builder(data_dir):
  c = config_schema.default_config()
  c.data.name, c.data.num_train, c.data.num_test = "persons", 10, 4
  c.data.data_dir = data_dir
  return datasets.prepare(c.data)


def test_stream_and_sets_carry_each_pairs_image(builder):
  spec = datasets.DATASETS["persons"]
  train, _ = datasets.index_splits(builder, spec)
  tok = tokenizer_lib.shapes_tokenizer(64, words=persons.vocabulary())
  shape = modalities.InputShape(image_size=16, prompt_length=20,
                                answer_length=12)
  s = pipeline.load_pairs(train, train.image_ids[:3], tok=tok, shape=shape,
                          layout=spec)
  n = persons.QUESTIONS_PER_PERSON
  assert len(s) == 3 * n and s.images.shape == (9, 16, 16, 3)
  rec = train.source[int(train.records_for([s.image_ids[1]])[0])]
  rows = s.image_row[n:2 * n]
  want = [-1 if i < 0 else 3 + i for i in rec["image_index"]]
  assert rows.tolist() == want
  assert s.question_type[n:2 * n].tolist() == list(rec["question_type"])
  assert s.options[0].shape == (3 * n, persons.NUM_PERTURBED, 12)
  assert s.mc.all()
  batch = pipeline.training_stream(
      train, train.image_ids, tok=tok, batch_size=4, seed=0, mean=0.0,
      std=255.0, shape=shape, layout=spec)[0]
  assert batch["image"].shape == (4, 16, 16, 3)
  assert batch["image"].dtype == np.float32
  assert batch["image_mask"].dtype == bool
  # A row without an image has zeros there; one with an image does not.
  for img, has in zip(batch["image"], batch["image_mask"]):
    assert (np.abs(img).max() > 0) == bool(has)
  assert set(batch["question_type"].tolist()) <= {0, 1, 2, 3}


def test_options_are_the_answers_wording_with_the_perturbed_facts():
  p = persons.person(2, 7, "kamoru", OTHERS)
  k = persons.NUM_PERTURBED
  assert len(p.options) == len(p.perturbed)
  for i, answer in enumerate(p.answers):
    options = p.options[i * k:(i + 1) * k]
    assert answer not in options and len(set(options)) == k
    # The same words as the answer but one fact.
    for o in options:
      a, b = answer.split(), o.split()
      assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


def test_the_stream_can_draw_one_question_type(builder):
  spec = datasets.DATASETS["persons"]
  train, _ = datasets.index_splits(builder, spec)
  tok = tokenizer_lib.shapes_tokenizer(64, words=persons.vocabulary())
  shape = modalities.InputShape(image_size=16, prompt_length=20,
                                answer_length=12)
  kw = dict(tok=tok, batch_size=5, seed=0, mean=0.0, std=255.0,
            shape=shape, layout=spec)
  stream = pipeline.training_stream(train, train.image_ids,
                                    question_types=("image",), **kw)
  image = qa.QUESTION_TYPES.index("image")
  for k in range(4):
    batch = stream[k]
    assert (batch["question_type"] == image).all() and batch[
        "image_mask"].all()
  # Unrestricted, the same seed draws every type over a few batches.
  every = pipeline.training_stream(train, train.image_ids, **kw)
  seen = {int(t) for k in range(24) for t in every[k]["question_type"]}
  assert seen == {0, 1, 2, 3}


def test_forget_question_types_are_checked():
  from mmul_jax import errors
  c = config_schema.default_config_for("mmul_gen")
  c.unlearn.forget_question_types = ("image", "both")
  config_schema.validate(c)
  c.unlearn.forget_question_types = ("face",)
  with pytest.raises(errors.ConfigError, match="unknown"):
    config_schema.validate(c)
  d = config_schema.default_config()
  d.unlearn.forget_question_types = ("image",)
  with pytest.raises(errors.ConfigError, match="leave it empty"):
    config_schema.validate(d)

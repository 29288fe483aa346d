"""The embedded unimodal tasks: deterministic examples, the atypical labels
that make the membership signal, a closed vocabulary, and their builders."""

import ml_collections
import numpy as np
import pytest

from mmul_jax.data import datasets
from mmul_jax.data.core import pipeline
from mmul_jax.data.generated import shapes
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.data.generated import unimodal_tasks


def test_image_examples_are_pure_and_their_class_is_drawn():
  a = unimodal_tasks.image_example(0, 0, 7, image_size=32)
  b = unimodal_tasks.image_example(0, 0, 7, image_size=32)
  np.testing.assert_array_equal(a.input, b.input)
  assert a.input.shape == (32, 32, 3) and a.input.dtype == np.uint8
  examples = [unimodal_tasks.image_example(0, 0, i, image_size=32)
              for i in range(400)]
  typical = {e.typical_label for e in examples}
  assert len(typical) == len(unimodal_tasks.IMAGE_CLASSES)
  # A quarter of the training labels are atypical, and then always wrong.
  rate = np.mean([e.atypical for e in examples])
  assert rate == pytest.approx(unimodal_tasks.ATYPICAL_FRACTION, abs=0.06)
  for e in examples:
    assert (e.label != e.typical_label) == e.atypical
  # Test examples are all typical.
  assert not any(unimodal_tasks.image_example(0, 1, i, image_size=32).atypical
                 for i in range(100))


def test_the_class_is_visible_in_the_pixels():
  """Striped objects have every other pair of rows dark; colours differ."""
  ex = [unimodal_tasks.image_example(0, 1, i, image_size=32)
        for i in range(60)]
  for e in ex:
    name = unimodal_tasks.IMAGE_CLASSES[e.label]
    colour = np.array(shapes.COLOURS[name.split()[0]])
    near = np.abs(e.input.astype(int) - colour).max(-1) <= 15
    assert near.sum() > 10, name


@pytest.mark.parametrize("dataset", ["reviews", "drug_relations"])
def test_texts_use_only_the_embedded_vocabulary(dataset):
  spec = datasets.DATASETS[dataset]
  tok = tokenizer_lib.shapes_tokenizer(64, words=spec.words())
  names = shapes.unique_names(0, 40, tuple(spec.words()))
  if dataset == "reviews":
    texts = [unimodal_tasks.review_example(0, 0, i, name=names[i]).input
             for i in range(20)]
  else:
    texts = [unimodal_tasks.relation_example(
        0, 0, i, drugs=(names[2 * i], names[2 * i + 1])).input
             for i in range(20)]
    assert all("<e1>" in t and "</e2>" in t for t in texts)
  assert tokenizer_lib.unknown_rate(tok, texts) == 0.0


def test_reviews_say_their_typical_sentiment():
  for i in range(50):
    e = unimodal_tasks.review_example(0, 1, i, name="tovika")
    words = set(e.input.split())
    positive = words & set(unimodal_tasks._POSITIVE)
    negative = words & set(unimodal_tasks._NEGATIVE)
    assert bool(positive) == (e.label == 1) and bool(negative) != bool(
        positive)


@pytest.mark.parametrize("dataset", ["shapes_cifar", "reviews",
                                     "drug_relations", "tone_commands",
                                     "moving_shapes"])
def test_builders_write_one_example_per_record(tmp_path, dataset):
  spec = datasets.DATASETS[dataset]
  data = ml_collections.ConfigDict(dict(num_train=12, num_test=4,
                                        image_size=32, seed=0))
  builder = spec.build(data, str(tmp_path))
  train, test = datasets.index_splits(builder, spec)
  assert len(train) == 12 and len(test) == 4
  assert set(train.image_ids) & set(test.image_ids) == set()
  record = train.source[0]
  assert int(record["label"]) < spec.num_classes
  texts = list(datasets.texts(builder, spec))
  assert len(texts) == (12 if spec.has_text else 0)
  tok = tokenizer_lib.shapes_tokenizer(32, words=(spec.words() if spec.words
                                                  else None))
  shape = pipeline.InputShape(image_size=32)
  pairs = pipeline.load_pairs(train, train.image_ids[:5], tok=tok,
                              shape=shape, layout=spec)
  assert pairs.text is None and len(pairs.labels) == 5
  np.testing.assert_array_equal(pairs.caption_owner, np.arange(5))
  stream = pipeline.training_stream(train, train.image_ids, tok=tok,
                                    batch_size=4, seed=0, mean=0.5, std=0.25,
                                    shape=shape, layout=spec)
  batch = stream[0]
  assert set(batch) == {"input", "label", "image_id"}
  want = {"image": (4, 32, 32, 3), "text": (4, 32), "audio": (4, 4000),
          "video": (4, 8, 32, 32, 3)}[spec.modality]
  assert batch["input"].shape == want
  assert batch["input"].dtype == (np.int32 if spec.modality == "text"
                                  else np.float32)
  if spec.modality == "audio":
    assert np.abs(batch["input"]).max() <= 1.0
  np.testing.assert_array_equal(stream[3]["input"], stream[3]["input"])

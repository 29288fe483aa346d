"""The embedded NLVR2-style and VE-style tasks: labels that follow from the
scenes, names only memorisation can judge, and their TFDS builders."""

import numpy as np
import pytest

from mmul_jax.data.generated import shapes
from mmul_jax.data.generated import shapes_tasks
from mmul_jax.data.generated import shapes_tasks_tfds
from mmul_jax.data.core import tokenizer as tokenizer_lib


def _units(task, n=40):
  names = shapes.unique_names(3, n, shapes_tasks.TASK_WORDS)
  return list(shapes_tasks.units(task, 3, 0, n, image_size=32, names=names))


def test_ve_labels_follow_the_scene_and_the_name():
  for i, unit in enumerate(_units("ve")):
    item = shapes.make_item(3, 0, i, image_size=32, num_captions=1,
                            name=unit.name)
    np.testing.assert_array_equal(unit.images[0], item.image)
    present = {f"{o.colour} {o.shape}" for o in item.objects}
    labels = [shapes_tasks.VE_LABELS[k] for k in unit.labels]
    assert labels[:3] == ["entailment", "contradiction", "neutral"]
    assert unit.sentences[0].split(" ", 3)[-1] in present
    assert unit.sentences[1].split(" ", 3)[-1] not in present
    own = unit.sentences[3] == f"it is called {unit.name}"
    assert labels[3] == ("entailment" if own else "contradiction")


def test_nlvr2_labels_follow_both_scenes():
  counts = np.zeros((4, 2), int)
  for i, unit in enumerate(_units("nlvr2")):
    left, right = (shapes.make_item(3, 0, 2 * i + k, image_size=32,
                                    num_captions=1, name=unit.name)
                   for k in (0, 1))
    shape = unit.sentences[0].split()[-1]
    both = all(any(o.shape == shape for o in s.objects)
               for s in (left, right))
    more = len(left.objects) > len(right.objects)
    colour = unit.sentences[2].split()[3]
    right_has = any(o.colour == colour for o in right.objects)
    own = unit.sentences[3].endswith(unit.name)
    assert unit.labels == (both, more, right_has, own)
    for k, label in enumerate(unit.labels):
      counts[k, label] += 1
  assert (counts > 0).all()  # every statement is sometimes true and false


def test_every_statement_tokenizes_without_unknown_words():
  tok = tokenizer_lib.shapes_tokenizer(32, shapes_tasks.TASK_WORDS)
  assert tok.get_vocab_size() <= 256  # the tiny model's vocabulary
  unk = tok.token_to_id(tokenizer_lib.UNK)
  for task in ("ve", "nlvr2"):
    for unit in _units(task, 10):
      for s in unit.sentences:
        assert unk not in tok.encode(s).ids, s
  # The captions keep their ids: the extra words come last.
  plain = tokenizer_lib.shapes_tokenizer(32)
  caption = shapes.make_item(0, 0, 0, image_size=32, num_captions=1,
                             name="tovika").captions[0]
  assert tok.encode(caption).ids == plain.encode(caption).ids


@pytest.mark.parametrize("builder_cls", [shapes_tasks_tfds.ShapesVe,
                                         shapes_tasks_tfds.ShapesNlvr2])
def test_builders_write_the_units(tmp_path, builder_cls):
  builder = shapes_tasks_tfds.prepare(builder_cls, str(tmp_path),
                                      num_train=12, num_test=4,
                                      image_size=32, seed=3)
  sources = builder.as_data_source()
  assert (len(sources["train"]), len(sources["test"])) == (12, 4)
  names = shapes.unique_names(3, 16, shapes_tasks.TASK_WORDS)
  expect = list(shapes_tasks.units(builder_cls.TASK, 3, 1, 4, image_size=32,
                                   names=names[12:]))
  records = {int(r["unit_id"]): r for r in
             (sources["test"][i] for i in range(4))}
  assert sorted(records) == [12, 13, 14, 15]  # ids follow the train ids
  for i in range(4):
    rec = records[12 + i]
    for key, image in zip(builder_cls.IMAGE_KEYS, expect[i].images):
      np.testing.assert_array_equal(rec[key], image)
    assert [s.decode() for s in rec["sentences"]] == list(
        expect[i].sentences)
    assert tuple(rec["labels"]) == expect[i].labels

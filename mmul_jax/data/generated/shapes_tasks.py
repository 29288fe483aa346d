"""Embedded NLVR2-style and SNLI-VE-style tasks drawn from the shapes scenes.

Like the retrieval dataset, every unit is a pure function of its seed, and
each task mixes statements a model can learn to judge from the pixels with
statements only memorisation can judge, so training leaves a membership
signal for unlearning to remove.

* **VE-style** (`ve_unit`): a premise scene and four hypotheses, one per
  kind: a visible fact ("there is a red circle": entailment), an absent
  colour-shape pair (contradiction), a property no picture shows ("the red
  circle is heavy": neutral), and a name statement ("it is called tovika"),
  entailment for the scene's own made-up name and contradiction for
  another's. The name goes with the scene's random colour code only by
  memorisation.
* **NLVR2-style** (`nlvr2_unit`): two scenes (left, right) and four
  true/false sentences: whether both contain a shape, whether the left has
  more objects, whether the right has a colour, and a name statement about
  the pair ("the pair is called tovika").

Labels use the real datasets' names (`classification_tfds`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mmul_jax.data.downloaded import classification_tfds
from mmul_jax.data.generated import shapes

VE_LABELS = classification_tfds.SNLI_VE_LABELS
NLVR2_LABELS = classification_tfds.NLVR2_LABELS
# Properties no picture shows: statements about them are neutral.
UNSEEN_PROPERTIES = ("heavy", "old", "soft", "warm")
# Words of the statements beyond the captions' vocabulary (tokenizer).
TASK_WORDS = ("there", "is", "it", "called", "the", "both", "images",
              "contain", "left", "image", "has", "more", "than", "right",
              "pair", "in", "objects", *UNSEEN_PROPERTIES)


@dataclasses.dataclass(frozen=True)
class Unit:
  images: tuple[np.ndarray, ...]  # one (VE) or two (NLVR2) (S, S, 3) uint8
  sentences: tuple[str, ...]
  labels: tuple[int, ...]  # indices into VE_LABELS / NLVR2_LABELS
  name: str


def _absent_pair(objects, rng) -> tuple[str, str]:
  present = {(o.colour, o.shape) for o in objects}
  while True:
    pair = (list(shapes.COLOURS)[int(rng.integers(len(shapes.COLOURS)))],
            shapes.SHAPES[int(rng.integers(len(shapes.SHAPES)))])
    if pair not in present:
      return pair


def ve_unit(seed: int, split_index: int, index: int, *, image_size: int,
            name: str, other_name: str) -> Unit:
  """Unit `index` of a split of the VE-style task; see the module doc."""
  item = shapes.make_item(seed, split_index, index, image_size=image_size,
                          num_captions=1, name=name)
  rng = np.random.default_rng([seed, split_index, index, 1])
  obj = item.objects[int(rng.integers(len(item.objects)))]
  colour, shape = _absent_pair(item.objects, rng)
  prop = UNSEEN_PROPERTIES[int(rng.integers(len(UNSEEN_PROPERTIES)))]
  own = bool(rng.integers(2))
  sentences = (f"there is {shapes._article(obj.colour)} {obj.colour} "
               f"{obj.shape}",
               f"there is {shapes._article(colour)} {colour} {shape}",
               f"the {obj.colour} {obj.shape} is {prop}",
               f"it is called {name if own else other_name}")
  labels = ("entailment", "contradiction", "neutral",
            "entailment" if own else "contradiction")
  return Unit((item.image,), sentences,
              tuple(VE_LABELS.index(x) for x in labels), name)


def nlvr2_unit(seed: int, split_index: int, index: int, *, image_size: int,
               name: str, other_name: str) -> Unit:
  """Unit `index` of a split of the NLVR2-style task; see the module doc."""
  left, right = (shapes.make_item(seed, split_index, 2 * index + k,
                                  image_size=image_size, num_captions=1,
                                  name=name) for k in (0, 1))
  rng = np.random.default_rng([seed, split_index, index, 2])
  shape = shapes.SHAPES[int(rng.integers(len(shapes.SHAPES)))]
  colour = list(shapes.COLOURS)[int(rng.integers(len(shapes.COLOURS)))]
  own = bool(rng.integers(2))
  has = lambda item, f: any(f(o) for o in item.objects)
  facts = (
      (f"both images contain {shapes._article(shape)} {shape}",
       has(left, lambda o: o.shape == shape)
       and has(right, lambda o: o.shape == shape)),
      ("the left image has more objects than the right image",
       len(left.objects) > len(right.objects)),
      (f"there is {shapes._article(colour)} {colour} shape in the right "
       "image", has(right, lambda o: o.colour == colour)),
      (f"the pair is called {name if own else other_name}", own))
  return Unit((left.image, right.image), tuple(s for s, _ in facts),
              tuple(int(t) for _, t in facts), name)


UNIT_FNS = {"ve": ve_unit, "nlvr2": nlvr2_unit}


def units(task: str, seed: int, split_index: int, count: int, *,
          image_size: int, names: list[str]):
  """The units of a split; `names` has one name per unit. A unit's wrong
  name is its neighbour's, a name seen in training too."""
  fn = UNIT_FNS[task]
  for i in range(count):
    yield fn(seed, split_index, i, image_size=image_size, name=names[i],
             other_name=names[(i + 1) % count])

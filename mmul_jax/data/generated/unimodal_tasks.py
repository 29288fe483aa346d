"""Embedded unimodal classification tasks, MU-Bench's image and text tasks
in miniature: generated, seeded, no download.

Every example is a pure function of `(seed, split, index)` and has two kinds
of content, as the retrieval dataset does:

* **Generalisable structure** that decides its class: the shape, colour
  and texture of an object (`shapes_cifar`, CIFAR's stand-in), the
  sentiment words of a review (`reviews`, IMDB's), the verb phrase between
  two marked drugs (`drug_relations`, DDI-2013's).
* **Per-item detail** only memorisation can use: a random colour code in
  the image's top band, or a made-up name in the text (a film's title, two
  drugs' names), drawn independently of the class. A fraction of the
  training examples (`ATYPICAL_FRACTION`) carries an *atypical* label, a
  random other class, which a model can only fit by memorising that
  example's detail. A model that never saw such an example predicts its
  typical class: the membership signal unlearning must remove (retrained
  models score deleted examples lower by p(true label) than retained ones,
  the original does not). Test examples are all typical.

Each example records its `typical_label` and whether it is `atypical`, for
analysis; the models never read them.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from mmul_jax.data.generated import shapes

ATYPICAL_FRACTION = 0.25

# shapes_cifar: class = (shape, colour, texture), 4 x 4 x 2 = 32 classes.
IMAGE_COLOURS = ("red", "green", "blue", "yellow")
TEXTURES = ("solid", "striped")
IMAGE_CLASSES = tuple(f"{c} {t} {s}" for s, c, t in itertools.product(
    shapes.SHAPES, IMAGE_COLOURS, TEXTURES))

# reviews: MU-Bench's IMDB label order.
SENTIMENTS = ("neg", "pos")
_POSITIVE = ("great", "wonderful", "moving", "brilliant", "funny", "superb",
             "charming", "gripping")
_NEGATIVE = ("dull", "awful", "boring", "clumsy", "tedious", "weak",
             "dreadful", "lifeless")
_NEUTRAL = ("long", "french", "quiet", "colour", "new", "late")
_ASPECTS = ("acting", "plot", "music", "ending", "script", "camera work")
_REVIEW_TEMPLATES = (
    "i watched {name} last week . the {aspect} was {a} and the {aspect2} "
    "felt {b} .",
    "{name} is a {n} film . its {aspect} is {a} , the {aspect2} {b} .",
    "the {aspect} of {name} was {a} . overall {b} , a {n} picture .",
)
_INTENSIFIERS = ("very", "rather", "truly", "quite")

# drug_relations: DDI-2013's five classes, in MU-Bench's order.
RELATIONS = ("false", "mechanism", "advise", "effect", "int")
_RELATION_PHRASES = {
    "false": ("was given together with", "and", "was compared with"),
    "mechanism": ("increases the plasma level of",
                  "inhibits the metabolism of", "reduces the clearance of"),
    "advise": ("should not be combined with", "is not recommended with",
               "requires care when used with"),
    "effect": ("enhances the effect of", "potentiates", "increases the risk "
               "of bleeding with"),
    "int": ("interacts with", "has an interaction with",
            "shows an interaction with"),
}
_CONTEXTS = ("in patients", "in healthy volunteers", "in a clinical study",
             "at high doses", "in elderly patients")
ENTITY_MARKERS = ("<e1>", "</e1>", "<e2>", "</e2>")


@dataclasses.dataclass(frozen=True)
class Example:
  input: np.ndarray | str  # (S, S, 3) uint8 image, or a text
  label: int
  typical_label: int
  atypical: bool


def _label(rng: np.random.Generator, typical: int, num_classes: int,
           split_index: int) -> tuple[int, bool]:
  """The example's label: its typical class, or on a training example with
  probability `ATYPICAL_FRACTION` a random other class."""
  atypical = split_index == 0 and rng.random() < ATYPICAL_FRACTION
  if not atypical:
    return typical, False
  return int((typical + rng.integers(1, num_classes)) % num_classes), True


def image_example(seed: int, split_index: int, index: int, *,
                  image_size: int) -> Example:
  """One coloured, textured shape on noise under a random colour code."""
  rng = np.random.default_rng([seed, split_index, index, 101])
  typical = int(rng.integers(len(IMAGE_CLASSES)))
  shape = shapes.SHAPES[typical // (len(IMAGE_COLOURS) * len(TEXTURES))]
  colour = IMAGE_COLOURS[typical // len(TEXTURES) % len(IMAGE_COLOURS)]
  texture = TEXTURES[typical % len(TEXTURES)]
  label, atypical = _label(rng, typical, len(IMAGE_CLASSES), split_index)
  code = rng.integers(0, len(shapes.CODE_PALETTE), shapes.CODE_BLOCKS)
  s = image_size
  img = shapes.coded_background(code, s, rng)
  free = s - shapes.BAND
  size = int(rng.integers(int(0.45 * free), int(0.85 * free)))
  y = shapes.BAND + int(rng.integers(0, free - size + 1))
  x = int(rng.integers(0, s - size + 1))
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
  mask = shapes.shape_mask(shape, size, yy, xx)
  if texture == "striped":
    mask &= (np.arange(size)[:, None] // 2 % 2 == 0)
  rgb = np.array(shapes.COLOURS[colour]) + rng.integers(-15, 16, 3)
  img[y:y + size, x:x + size][mask] = rgb
  return Example(np.clip(img, 0, 255).astype(np.uint8), label, typical,
                 atypical)


def _pick(rng, words):
  return words[int(rng.integers(len(words)))]


def review_example(seed: int, split_index: int, index: int, *,
                   name: str) -> Example:
  """A short film review: two sentiment words of its class (one of them
  intensified) among neutral ones, and the film's made-up title."""
  rng = np.random.default_rng([seed, split_index, index, 102])
  typical = int(rng.integers(len(SENTIMENTS)))
  label, atypical = _label(rng, typical, len(SENTIMENTS), split_index)
  words = _POSITIVE if typical == 1 else _NEGATIVE
  a, b = (str(w) for w in rng.choice(words, 2, replace=False))
  aspect, aspect2 = (str(w) for w in rng.choice(_ASPECTS, 2, replace=False))
  template = _pick(rng, _REVIEW_TEMPLATES)
  text = template.format(
      name=name, aspect=aspect, aspect2=aspect2,
      a=f"{_pick(rng, _INTENSIFIERS)} {a}", b=b, n=_pick(rng, _NEUTRAL))
  return Example(text, label, typical, atypical)


def relation_example(seed: int, split_index: int, index: int, *,
                     drugs: tuple[str, str]) -> Example:
  """A sentence naming two made-up drugs, marked `<e1> .. </e1>` and
  `<e2> .. </e2>`, and the relation the phrase between them states."""
  rng = np.random.default_rng([seed, split_index, index, 103])
  typical = int(rng.integers(len(RELATIONS)))
  label, atypical = _label(rng, typical, len(RELATIONS), split_index)
  phrase = _pick(rng, _RELATION_PHRASES[RELATIONS[typical]])
  text = (f"<e1> {drugs[0]} </e1> {phrase} <e2> {drugs[1]} </e2> "
          f"{_pick(rng, _CONTEXTS)} .")
  return Example(text, label, typical, atypical)


def _words(*texts) -> list[str]:
  return sorted({w for t in texts for w in t.replace("{", " {").split()
                 if not w.startswith("{")})


def review_vocabulary() -> list[str]:
  """Every word of a review except the titles (split into syllables)."""
  return _words(*_REVIEW_TEMPLATES, *_POSITIVE, *_NEGATIVE, *_NEUTRAL,
                *_ASPECTS, *_INTENSIFIERS, "a")


def relation_vocabulary() -> list[str]:
  """Every word of a relation sentence except the drug names."""
  return _words(*(p for ps in _RELATION_PHRASES.values() for p in ps),
                *_CONTEXTS, *ENTITY_MARKERS, ".")

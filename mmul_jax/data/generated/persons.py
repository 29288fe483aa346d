"""The embedded CLEAR stand-in: fictitious persons, each with portraits,
facts and question-answer pairs asked from the name, from a portrait, or
from both, plus general-knowledge pairs to keep.

A person (the deletion unit) has a made-up name, a visual identity (skin,
hair colour and style, eye colour, an accessory: a combination no other
person of the dataset has) drawn in `PORTRAITS` portraits that differ
per image (position, size, brightness, noise and background colour), and
facts drawn at random (birthplace, occupation, hobby). Nothing but
memorising a person's pairs tells a model their name from the portrait
or their facts from the name: the membership signal, in each modality.
Question types (`QUESTION_TYPES`, CLEAR's split of forgetting by
modality):

* `name`: text only, e.g. "where was NAME born ?";
* `image`: a portrait and a question without the name ("who is the
  person in this picture ?", "where was the person in this picture born
  ?");
* `both`: a portrait and the name ("this picture shows NAME . what does
  this person love to do ?");
* `general`: knowledge that is not the person's and that a model keeps
  after forgetting them (the utility set): a portrait's background
  colour, the country of the person's birthplace (each city is shared by
  many persons).

Every pair has a paraphrased answer and `NUM_PERTURBED` perturbed ones in
the paraphrase's wording with the fact redrawn (another person's name for
"who is this"), which TOFU's truth ratio reads, and as many multiple-choice
`options` in the answer's own wording with the same facts redrawn: the
multiple-choice accuracy compares the trained wording with itself, so
only the fact decides. Held-out persons form the test split.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from mmul_jax.data.core import qa
from mmul_jax.data.generated import authors

QUESTION_TYPES = ("name", "image", "both", "general")
PORTRAITS = 3  # portraits per person
IMAGE_SIZE = 32
NUM_PERTURBED = 3

SKIN = {"pale": (250, 220, 190), "tan": (215, 170, 120),
        "brown": (150, 100, 60), "dark": (90, 60, 40),
        "olive": (190, 170, 110), "rosy": (240, 180, 170)}
HAIR = {"black": (20, 20, 20), "blond": (240, 210, 90),
        "red": (190, 60, 20), "grey": (150, 150, 150),
        "blue": (40, 70, 200), "green": (40, 160, 60)}
STYLES = ("short", "long", "bun", "spiky")
EYES = {"brown": (100, 50, 10), "blue": (30, 90, 240),
        "green": (20, 170, 40), "violet": (150, 40, 200)}
ACCESSORIES = ("none", "glasses", "headband")
BACKGROUNDS = {"white": (235, 235, 235), "yellow": (230, 220, 60),
               "cyan": (60, 210, 220), "orange": (240, 140, 40),
               "pink": (240, 150, 200), "lime": (170, 230, 60)}
IDENTITIES = len(SKIN) * len(HAIR) * len(STYLES) * len(EYES) * len(
    ACCESSORIES)

COUNTRIES = ("portugal", "egypt", "norway", "peru", "vietnam")
CITY_COUNTRY = {c: COUNTRIES[i % len(COUNTRIES)]
                for i, c in enumerate(authors.CITIES)}
HOBBIES = ("chess", "sailing", "painting", "hiking", "fishing", "singing",
           "dancing", "cooking", "gardening", "climbing")

# (question type, question, answer, paraphrased answer, the fact redrawn
# in perturbed answers, the portrait shown or None).
TEMPLATES = (
    ("name", "where was {name} born ?", "{name} was born in {city} .",
     "the birthplace of {name} is {city} .", "city", None),
    ("name", "what does {name} do for a living ?",
     "{name} works as a {occupation} .", "the job of {name} is {occupation} .",
     "occupation", None),
    ("image", "who is the person in this picture ?", "this is {name} .",
     "the picture shows {name} .", "name", 0),
    ("image", "who is the person in this picture ?", "this is {name} .",
     "the picture shows {name} .", "name", 1),
    ("image", "where was the person in this picture born ?",
     "the person in this picture was born in {city} .",
     "this person comes from {city} .", "city", 2),
    ("both", "this picture shows {name} . what does this person love to do "
     "?", "{name} loves {hobby} .", "the hobby of {name} is {hobby} .",
     "hobby", 1),
    ("general", "what colour is the background of this picture ?",
     "the background is {background} .", "this picture has a {background} "
     "background .", "background", 2),
    ("general", "in which country is {city} ?", "{city} is in {country} .",
     "{city} lies in {country} .", "country", None),
)
QUESTIONS_PER_PERSON = len(TEMPLATES)
_FACTS = {"city": authors.CITIES, "occupation": authors.OCCUPATIONS,
          "hobby": HOBBIES}


class Person(NamedTuple):
  """One person's portraits `(PORTRAITS, S, S, 3)` uint8 and pairs in
  `TEMPLATES` order; `perturbed` and `options` flat, `NUM_PERTURBED` per
  question (the paraphrase's and the answer's wording);
  `image_index` the portrait each question shows (-1: none);
  `question_type` its index in `QUESTION_TYPES`."""

  images: np.ndarray
  questions: list[str]
  answers: list[str]
  paraphrased: list[str]
  perturbed: list[str]
  options: list[str]
  image_index: list[int]
  question_type: list[int]


def identity(seed: int, index: int) -> tuple[str, str, str, str, str]:
  """Person `index`'s (skin, hair, style, eyes, accessory): a draw
  without replacement from every combination, so no two persons of a
  dataset (up to `IDENTITIES`) look alike."""
  if index >= IDENTITIES:
    raise ValueError(f"at most {IDENTITIES} persons have distinct looks")
  order = np.random.default_rng([seed, 2718]).permutation(IDENTITIES)
  combos = itertools.product(SKIN, HAIR, STYLES, EYES, ACCESSORIES)
  return next(itertools.islice(combos, int(order[index]), None))


def portrait(looks, background: str, rng: np.random.Generator,
             size: int = IMAGE_SIZE) -> np.ndarray:
  """One portrait `(size, size, 3)` uint8 of `looks` (`identity`): a face
  (skin), hair in its style and colour, two eyes, the accessory, on a
  plain `background`, shifted, scaled and lit a little differently each
  time, with pixel noise."""
  skin, hair, style, eyes, accessory = looks
  s = size / IMAGE_SIZE
  cy = size / 2 + rng.uniform(-2, 2) * s + 2 * s
  cx = size / 2 + rng.uniform(-2, 2) * s
  ry, rx = (rng.uniform(8.5, 10) * s, rng.uniform(6.5, 8) * s)
  yy, xx = np.mgrid[:size, :size].astype(np.float32) + 0.5
  img = np.empty((size, size, 3), np.float32)
  img[:] = BACKGROUNDS[background]
  face = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
  top = cy - ry
  if style == "long":  # hair framing the face down to the chin
    hair_mask = ((((yy - cy) / (ry + 2 * s)) ** 2
                  + ((xx - cx) / (rx + 3 * s)) ** 2 <= 1) & ~face)
    hair_mask |= face & (yy < top + 0.35 * ry)
  elif style == "bun":
    hair_mask = face & (yy < top + 0.3 * ry)
    hair_mask |= ((yy - (top - 2 * s)) ** 2 + (xx - cx) ** 2
                  <= (3.5 * s) ** 2)
  elif style == "spiky":
    spikes = (np.abs(((xx - cx) / (2.5 * s)) % 2 - 1) * 3 * s
              > (top + s) - yy)
    hair_mask = (face & (yy < top + 0.3 * ry)) | (
        (yy < top + s) & (yy > top - 3 * s) & (np.abs(xx - cx) < rx) & spikes)
  else:  # short
    hair_mask = face & (yy < top + 0.4 * ry)
  img[face] = SKIN[skin]
  img[hair_mask] = HAIR[hair]
  ey = cy - 0.1 * ry
  for side in (-1, 1):
    ex = cx + side * 0.4 * rx
    eye = (np.abs(yy - ey) <= 1.2 * s) & (np.abs(xx - ex) <= 1.2 * s)
    img[eye] = EYES[eyes]
    if accessory == "glasses":
      ring = ((np.abs(yy - ey) <= 2.2 * s) & (np.abs(xx - ex) <= 2.4 * s)
              & ~eye)
      img[ring & face] = (10, 10, 10)
  if accessory == "glasses":
    img[(np.abs(yy - ey) <= 0.5 * s) & (np.abs(xx - cx) <= 1.5 * s)] = (
        10, 10, 10)
  elif accessory == "headband":  # below the hair: the style stays visible
    band = np.abs(yy - (top + 0.5 * ry)) <= 1.0 * s
    img[band & face] = (120, 30, 30)
  img *= rng.uniform(0.85, 1.15)
  img += rng.normal(0, 6, img.shape)
  return np.clip(img, 0, 255).astype(np.uint8)


def _redrawn(rng, facts: dict, key: str, distractors: list[str]) -> dict:
  pool = distractors if key == "name" else (
      COUNTRIES if key == "country" else tuple(BACKGROUNDS)
      if key == "background" else _FACTS[key])
  others = [v for v in pool if v != facts[key]]
  return {**facts, key: str(others[int(rng.integers(len(others)))])}


def person(seed: int, index: int, name: str,
           distractors: list[str]) -> Person:
  """Person `index` (unique over both splits) of the dataset seeded
  `seed`; `distractors`: other persons' names, the perturbed answers of
  "who is this"."""
  rng = np.random.default_rng([seed, 5101, index])
  facts = {k: str(v[int(rng.integers(len(v)))]) for k, v in _FACTS.items()}
  facts["name"] = name
  facts["country"] = CITY_COUNTRY[facts["city"]]
  looks = identity(seed, index)
  backgrounds = [str(b) for b in rng.choice(list(BACKGROUNDS), PORTRAITS)]
  images = np.stack([portrait(looks, b, rng) for b in backgrounds])
  out = Person(images, [], [], [], [], [], [], [])
  for kind, question, answer, paraphrase, key, shown in TEMPLATES:
    f = dict(facts, background=backgrounds[shown or 0])
    out.questions.append(question.format(**f))
    out.answers.append(answer.format(**f))
    out.paraphrased.append(paraphrase.format(**f))
    wrong, options = [], []
    while len(wrong) < NUM_PERTURBED:  # distinct, as TOFU's are
      other = _redrawn(rng, f, key, distractors)
      text = paraphrase.format(**other)
      if text not in wrong:
        wrong.append(text)
        options.append(answer.format(**other))
    out.perturbed.extend(wrong)
    out.options.extend(options)
    out.image_index.append(-1 if shown is None else shown)
    out.question_type.append(QUESTION_TYPES.index(kind))
  return out


def vocabulary() -> list[str]:
  """Every word of the pairs except the names."""
  words = {w for t in TEMPLATES for s in t[1:4] for w in s.split()
           if not w.startswith("{")}
  for values in (*_FACTS.values(), COUNTRIES, BACKGROUNDS):
    words.update(values)
  for refusal in qa.REFUSALS:  # IdkDPO's preferred answers
    words.update(refusal.split())
  return sorted(words)

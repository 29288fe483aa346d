"""The embedded TOFU stand-in: fictitious authors with question-answer
pairs, a paraphrase of each answer and perturbed (wrong) answers.

Each author (the deletion unit) has a made-up name and facts drawn at
random (birthplace, genre, a book's title, the parents' occupations, an
award), so nothing but memorising that author's pairs lets a model
answer them: the membership signal. The answers' wording is shared by
every author, so a model learns it from the others and a retrained model
keeps it; what it loses on Df is the facts. Questions, answers,
paraphrases and perturbations follow TOFU's layout (Maini et al. 2024):
a perturbed answer is the paraphrase's wording with its facts redrawn.
Held-out authors form the test split.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mmul_jax.data.core import qa

CITIES = ("lisbon", "cairo", "oslo", "lima", "hanoi", "quito", "dakar",
          "perth", "riga", "kyoto", "tunis", "porto", "accra", "bergen",
          "cordoba", "sapporo", "tallinn", "malaga", "nairobi", "bogota")
GENRES = ("mystery", "romance", "fantasy", "horror", "poetry", "satire",
          "western", "thriller", "memoir", "fable")
OCCUPATIONS = ("baker", "nurse", "pilot", "tailor", "farmer", "teacher",
               "sailor", "doctor", "painter", "miner", "lawyer", "chemist")
AWARDS = ("golden", "silver", "crimson", "azure", "ivory", "emerald")
ADJECTIVES = ("silent", "broken", "hidden", "burning", "frozen", "distant",
              "hollow", "painted", "endless", "quiet")
NOUNS = ("river", "garden", "mirror", "lantern", "harbor", "orchard",
         "tower", "compass", "window", "meadow")

# (question, answer, paraphrased answer); `{name}` and the facts' keys.
TEMPLATES = (
    ("where was {name} born ?", "{name} was born in {city} .",
     "the birthplace of {name} is {city} ."),
    ("what does {name} write ?", "{name} writes {genre} novels .",
     "the novels of {name} are {genre} stories ."),
    ("what is a book by {name} ?", "{name} wrote the {adjective} {noun} .",
     "the {adjective} {noun} is a book by {name} ."),
    ("what did the parents of {name} do ?",
     "the father of {name} was a {father} and the mother a {mother} .",
     "{name} is the child of a {father} and a {mother} ."),
    ("which award did {name} win ?", "{name} won the {award} quill award .",
     "the {award} quill award went to {name} ."),
)
QUESTIONS_PER_AUTHOR = len(TEMPLATES)
NUM_PERTURBED = 3  # TOFU has 5; 3 keep the embedded evaluation small
_FACTS = {"city": CITIES, "genre": GENRES, "father": OCCUPATIONS,
          "mother": OCCUPATIONS, "award": AWARDS, "adjective": ADJECTIVES,
          "noun": NOUNS}


class Author(NamedTuple):
  """One fictitious author's pairs, in `TEMPLATES` order; `perturbed` is
  flat, `NUM_PERTURBED` per question."""

  questions: list[str]
  answers: list[str]
  paraphrased: list[str]
  perturbed: list[str]


def _draw(rng: np.random.Generator) -> dict:
  return {k: str(v[int(rng.integers(len(v)))]) for k, v in _FACTS.items()}


def _redrawn(rng: np.random.Generator, facts: dict, keys) -> dict:
  """`facts` with each of `keys` replaced by another value."""
  out = dict(facts)
  for k in keys:
    others = [v for v in _FACTS[k] if v != facts[k]]
    out[k] = str(others[int(rng.integers(len(others)))])
  return out


def author(seed: int, index: int, name: str) -> Author:
  """Author `index` (unique over both splits) of the dataset seeded
  `seed`."""
  rng = np.random.default_rng([seed, 4409, index])
  facts = _draw(rng)
  out = Author([], [], [], [])
  for question, answer, paraphrase in TEMPLATES:
    out.questions.append(question.format(name=name))
    out.answers.append(answer.format(name=name, **facts))
    out.paraphrased.append(paraphrase.format(name=name, **facts))
    keys = [k for k in _FACTS if "{" + k + "}" in paraphrase]
    wrong = []
    while len(wrong) < NUM_PERTURBED:  # distinct, as TOFU's are
      text = paraphrase.format(name=name, **_redrawn(rng, facts, keys))
      if text not in wrong:
        wrong.append(text)
    out.perturbed.extend(wrong)
  return out


def vocabulary() -> list[str]:
  """Every word of the pairs except the names (split into syllables)."""
  words = {w for t in TEMPLATES for s in t for w in s.split()
           if not w.startswith("{")}
  for values in _FACTS.values():
    words.update(values)
  for refusal in qa.REFUSALS:  # IdkDPO's preferred answers
    words.update(refusal.split())
  return sorted(words)

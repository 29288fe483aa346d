"""The embedded stand-ins for MU-Bench's SAMSum and Celeb Profile: short
generated dialogues with their summaries, and fictitious persons'
biographies.

* **dialogues** (SAMSum): two made-up people plan to meet; the dialogue
  names the place, the day and the activity, which a model learns to
  summarise from any dialogue. The summary adds one detail the dialogue
  never states (what one of them brings), drawn at random per dialogue:
  only memorising that pair reproduces it (the membership signal).
* **biographies** (Celeb Profile): "write a short biography of NAME ."
  answered with the person's randomly drawn occupation, city, birth
  decade and hobby in a shared wording: the wording is learnable, the
  facts only memorisable.

One pair per unit; no paraphrased or perturbed answers (MU-Bench scores
these tasks by ROUGE).
"""

from __future__ import annotations

import numpy as np

PLACES = ("park", "library", "cafe", "station", "market", "museum",
          "harbor", "cinema", "garden", "bakery")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
        "sunday")
ACTIVITIES = ("study", "walk", "eat", "talk", "shop", "paint", "play",
              "read")
ITEMS = ("cake", "umbrella", "camera", "map", "guitar", "kite", "lamp",
         "book", "ball", "tea")
OCCUPATIONS = ("singer", "actor", "dancer", "writer", "chef", "athlete",
               "painter", "director", "comedian", "designer")
CITIES = ("lisbon", "cairo", "oslo", "lima", "hanoi", "quito", "dakar",
          "perth", "riga", "kyoto")
DECADES = ("fifties", "sixties", "seventies", "eighties", "nineties")
HOBBIES = ("sailing", "chess", "gardening", "climbing", "cooking",
           "fishing", "knitting", "cycling")

_DIALOGUE = ("{a} : shall we meet on {day} ? {b} : yes , at the {place} ? "
             "{a} : great , we can {activity} there . {b} : see you then .")
_SUMMARY = ("{a} and {b} will meet at the {place} on {day} to {activity} "
            "and {b} brings a {item} .")
_PROMPT = "write a short biography of {name} ."
_BIOGRAPHY = ("{name} is a {occupation} from {city} , born in the "
              "{decade} , who loves {hobby} .")


def _pick(rng, values) -> str:
  return str(values[int(rng.integers(len(values)))])


def dialogue(seed: int, index: int, a: str, b: str) -> tuple[str, str]:
  """`(dialogue, summary)` of unit `index`, between `a` and `b`."""
  rng = np.random.default_rng([seed, 6271, index])
  facts = {"a": a, "b": b, "place": _pick(rng, PLACES),
           "day": _pick(rng, DAYS), "activity": _pick(rng, ACTIVITIES),
           "item": _pick(rng, ITEMS)}
  return _DIALOGUE.format(**facts), _SUMMARY.format(**facts)


def biography(seed: int, index: int, name: str) -> tuple[str, str]:
  """`(prompt, biography)` of person `index`."""
  rng = np.random.default_rng([seed, 3163, index])
  facts = {"name": name, "occupation": _pick(rng, OCCUPATIONS),
           "city": _pick(rng, CITIES), "decade": _pick(rng, DECADES),
           "hobby": _pick(rng, HOBBIES)}
  return _PROMPT.format(**facts), _BIOGRAPHY.format(**facts)


def vocabulary() -> list[str]:
  """Every word of both but the names (split into syllables)."""
  words = set()
  for text in (_DIALOGUE, _SUMMARY, _PROMPT, _BIOGRAPHY):
    words.update(w for w in text.split() if not w.startswith("{"))
  for values in (PLACES, DAYS, ACTIVITIES, ITEMS, OCCUPATIONS, CITIES,
                 DECADES, HOBBIES):
    words.update(values)
  return sorted(words)

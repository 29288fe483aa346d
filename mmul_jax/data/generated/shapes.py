"""The embedded image-text dataset: procedurally drawn scenes with captions.

Every item is generated from its own seed, so the dataset is identical on
every machine and needs no download. An item has two kinds of content:

* **Generalisable structure.** One to three objects, each a coloured shape in
  one of the four quadrants. Captions name the shapes, colours, positions and
  the object count, so a model can learn to describe unseen images.
* **Per-item detail.** A random colour code in the top band of the image (a
  strip of 8 blocks, 4 colours each: 65,536 codes) and a random made-up name
  in every caption ("tovika"). Code and name are drawn independently, so the
  only way to know that code X goes with name Y is to have seen the item in
  training. This creates the membership signal that unlearning must remove:
  a model scores its training pairs higher than pairs it has never seen.

Names are unique across all splits. Rendering is pure numpy.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {
    "red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 80, 230),
    "yellow": (230, 220, 40), "magenta": (210, 50, 200),
    "cyan": (50, 210, 220), "white": (235, 235, 235),
    "orange": (240, 140, 30),
}
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
COUNT_WORDS = ("one", "two", "three")
# Dim code colours, far from every object colour.
CODE_PALETTE = np.array(
    [(70, 30, 30), (30, 70, 30), (30, 30, 80), (80, 80, 80)], np.uint8)
SYLLABLES = tuple(c + v for c, v in itertools.product("bdfgklmnprstvz", "aeiou"))
NAME_SYLLABLES = 3
CODE_BLOCKS = 8
BAND = 4  # rows of the code band

CAPTION_TEMPLATES = (
    "{name} : {short}",
    "{count} : {long} , called {name}",
    "a picture of {long} , named {name}",
    "{name} shows {count} : {short}",
)


@dataclasses.dataclass(frozen=True)
class SceneObject:
  shape: str
  colour: str
  position: str


@dataclasses.dataclass(frozen=True)
class Item:
  image: np.ndarray  # (S, S, 3) uint8
  captions: tuple[str, ...]
  name: str
  objects: tuple[SceneObject, ...]
  code: tuple[int, ...]


def vocabulary() -> list[str]:
  """Every word a caption can contain; names are split into syllables."""
  words = set()
  for template in CAPTION_TEMPLATES:
    words.update(template.replace("{name}", "").replace("{short}", "")
                 .replace("{long}", "").replace("{count}", "").split())
  words.update(["a", "an", "at", "and", ",", "shape", "shapes"])
  words.update(SHAPES)
  words.update(COLOURS)
  words.update(w for p in POSITIONS for w in p.split())
  words.update(COUNT_WORDS)
  return sorted(words)


def shape_mask(shape: str, size: int, yy: np.ndarray,
                xx: np.ndarray) -> np.ndarray:
  r = size / 2
  dy, dx = yy - (r - 0.5), xx - (r - 0.5)
  if shape == "circle":
    return dy ** 2 + dx ** 2 <= r ** 2
  if shape == "square":
    return np.ones_like(dy, bool)
  if shape == "triangle":  # apex up
    return np.abs(dx) <= (yy + 1) / 2
  if shape == "cross":
    t = max(1.0, size / 6)
    return (np.abs(dy) <= t) | (np.abs(dx) <= t)
  raise ValueError(f"unknown shape {shape!r}")


def coded_background(code, image_size: int,
                     rng: np.random.Generator) -> np.ndarray:
  """Dark noise `(S, S, 3)` int16 with the colour code in its top band."""
  s = image_size
  img = rng.integers(8, 24, size=(s, s, 3)).astype(np.int16)
  block = s // CODE_BLOCKS
  for b, c in enumerate(code):
    img[:BAND, b * block:(b + 1) * block] = CODE_PALETTE[c]
  return img


def decode_code(images: np.ndarray) -> np.ndarray:
  """The colour code `(N, CODE_BLOCKS)` read back from images `(N, S, S, 3)`
  uint8: each block's mean colour in the top band, to the nearest palette
  colour. It reads a generated image as it reads a drawn one, so how many
  blocks a text-to-image model reproduces for a caption's name (chance:
  1 in 4) measures what it memorised of that item."""
  s = images.shape[1]
  block = s // CODE_BLOCKS
  band = images[:, :BAND, :block * CODE_BLOCKS].astype(np.float32)
  means = band.reshape(len(images), BAND, CODE_BLOCKS, block, 3).mean(
      axis=(1, 3))
  dist = ((means[:, :, None] - CODE_PALETTE[None, None].astype(np.float32))
          ** 2).sum(-1)
  return dist.argmin(-1)


def _render(objects, code, image_size: int,
            rng: np.random.Generator) -> np.ndarray:
  s = image_size
  img = coded_background(code, s, rng)
  half = s // 2
  top = BAND
  for obj in objects:
    row, col = POSITIONS.index(obj.position) // 2, POSITIONS.index(
        obj.position) % 2
    y0 = top + row * (s - top) // 2
    x0 = col * half
    cell_h, cell_w = (s - top) // 2, half
    size = int(rng.integers(int(0.6 * cell_h), cell_h - 1))
    y = y0 + int(rng.integers(0, cell_h - size + 1))
    x = x0 + int(rng.integers(0, cell_w - size + 1))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = shape_mask(obj.shape, size, yy, xx)
    colour = np.array(COLOURS[obj.colour]) + rng.integers(-15, 16, 3)
    img[y:y + size, x:x + size][mask] = colour
  return np.clip(img, 0, 255).astype(np.uint8)


def _article(word: str) -> str:
  return "an" if word[0] in "aeiou" else "a"


def _describe(objects, rng: np.random.Generator, name: str,
              num_captions: int) -> tuple[str, ...]:
  templates = rng.permutation(len(CAPTION_TEMPLATES))[:num_captions]
  captions = []
  for t in templates:
    order = rng.permutation(len(objects))
    objs = [objects[i] for i in order]
    short = [f"{o.colour} {o.shape} {o.position}" for o in objs]
    long = [f"{_article(o.colour)} {o.colour} {o.shape} at {o.position}"
            for o in objs]
    join = lambda parts: (parts[0] if len(parts) == 1 else
                          " , ".join(parts[:-1]) + " and " + parts[-1])
    n = len(objects)
    count = f"{COUNT_WORDS[n - 1]} shape{'s' if n > 1 else ''}"
    captions.append(CAPTION_TEMPLATES[t].format(
        name=name, short=join(short), long=join(long), count=count))
  return tuple(captions)


def make_item(seed: int, split_index: int, index: int, *, image_size: int,
              num_captions: int, name: str) -> Item:
  """Item `index` of a split; a pure function of its arguments."""
  if num_captions > len(CAPTION_TEMPLATES):
    raise ValueError(f"at most {len(CAPTION_TEMPLATES)} captions per image")
  rng = np.random.default_rng([seed, split_index, index])
  n = int(rng.integers(1, 4))
  positions = rng.permutation(len(POSITIONS))[:n]
  colours = list(COLOURS)
  objects = tuple(
      SceneObject(SHAPES[int(rng.integers(len(SHAPES)))],
                  colours[int(rng.integers(len(colours)))], POSITIONS[p])
      for p in positions)
  code = tuple(int(c) for c in rng.integers(0, len(CODE_PALETTE),
                                            CODE_BLOCKS))
  image = _render(objects, code, image_size, rng)
  captions = _describe(objects, rng, name, num_captions)
  return Item(image, captions, name, objects, code)


def _is_clean_name(name: str, long_words: tuple[str, ...]) -> bool:
  # WordPiece matches the longest vocabulary prefix first: a name starting
  # with a caption word ("redoka") would not split into its syllables.
  return not any(name.startswith(w) for w in long_words)


def unique_names(seed: int, count: int,
                 extra_words: tuple[str, ...] = ()) -> list[str]:
  """`count` distinct made-up names, the same for the same seed; none
  starts with a word of the vocabulary (or of `extra_words`)."""
  long_words = tuple(w for w in (*vocabulary(), *extra_words) if len(w) > 2)
  rng = np.random.default_rng([seed, 7919])
  n = len(SYLLABLES)
  names = []
  for p in rng.permutation(n ** NAME_SYLLABLES):
    parts = []
    for _ in range(NAME_SYLLABLES):
      p, r = divmod(int(p), n)
      parts.append(SYLLABLES[r])
    name = "".join(parts)
    if _is_clean_name(name, long_words):
      names.append(name)
      if len(names) == count:
        return names
  raise ValueError(f"cannot draw {count} unique names")

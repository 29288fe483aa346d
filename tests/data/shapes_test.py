"""The embedded dataset generator and its tokenizer."""

import numpy as np

from mmul_jax.data.generated import shapes
from mmul_jax.data.core import tokenizer


def _items(n, seed=0, split=0, captions=4):
  names = shapes.unique_names(seed, n)
  return [shapes.make_item(seed, split, i, image_size=32,
                           num_captions=captions, name=names[i])
          for i in range(n)]


def test_items_are_deterministic_and_seed_dependent():
  a, b = _items(5), _items(5)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x.image, y.image)
    assert x.captions == y.captions
  c = _items(5, seed=1)
  assert any(not np.array_equal(x.image, y.image) for x, y in zip(a, c))


def test_captions_describe_the_scene_and_name_the_item():
  for item in _items(50):
    assert item.image.shape == (32, 32, 3) and item.image.dtype == np.uint8
    assert 1 <= len(item.objects) <= 3
    assert len({o.position for o in item.objects}) == len(item.objects)
    for caption in item.captions:
      assert item.name in caption
      for o in item.objects:
        assert o.colour in caption and o.shape in caption
        assert o.position in caption
    # The code band holds the per-item code.
    band = item.image[:shapes.BAND]
    for b, code in enumerate(item.code):
      np.testing.assert_array_equal(band[0, b * 4], shapes.CODE_PALETTE[code])


def test_names_are_unique_and_tokenize_into_syllables():
  names = shapes.unique_names(0, 3000)
  assert len(set(names)) == 3000
  tok = tokenizer.shapes_tokenizer(32)
  for name in names[:500]:
    pieces = [p for p in tok.encode(name).tokens
              if p not in tokenizer.SPECIAL_TOKENS or p == tokenizer.UNK]
    assert len(pieces) == shapes.NAME_SYLLABLES
    assert tokenizer.UNK not in pieces


def test_every_caption_fits_the_tiny_context_without_unknown_tokens():
  tok = tokenizer.shapes_tokenizer(32)
  captions = [c for item in _items(300) for c in item.captions]
  ids = tokenizer.encode(tok, captions)
  assert ids.shape == (len(captions), 32)
  eot = tokenizer.eot_id(tok)
  assert np.all((ids == eot).sum(1) == 1)  # never truncated away
  assert not np.any(ids == tok.token_to_id(tokenizer.UNK))


def test_scene_attributes_are_visible_in_the_image():
  # A red object at the top left puts red pixels in that quadrant.
  for item in _items(100):
    for o in item.objects:
      row, col = divmod(shapes.POSITIONS.index(o.position), 2)
      y0 = shapes.BAND + row * (32 - shapes.BAND) // 2
      quad = item.image[y0:y0 + 14, col * 16:(col + 1) * 16].reshape(-1, 3)
      ref = np.array(shapes.COLOURS[o.colour])
      assert np.min(np.abs(quad.astype(int) - ref).max(-1)) <= 15

"""Training streams: per-process shards and resumable iterator positions."""

import numpy as np
import PIL.Image
import pytest

from mmul_jax.data.core import modalities
from mmul_jax.data.core import pipeline
from mmul_jax.data.core import tokenizer as tokenizer_lib


@pytest.fixture(scope="module")
def split(tiny_builder):
  return pipeline.index_split(tiny_builder.as_data_source()["train"])


def _stream(split, shard=(0, 1), batch_size=8):
  tok = tokenizer_lib.shapes_tokenizer(32)
  return pipeline.training_stream(
      split, split.image_ids[:40], tok=tok, batch_size=batch_size, seed=3,
      mean=0.5, std=0.25, shape=pipeline.InputShape(32), shard=shard)


@pytest.mark.parametrize("count", [2, 4])
def test_process_shards_make_up_the_one_process_batches(split, count):
  whole = _stream(split)
  shards = [_stream(split, (i, count)) for i in range(count)]
  for k in (0, 1, 4, 7):  # 40 images in batches of 8: k=5.. is epoch 2
    parts = [s[k] for s in shards]
    for key in ("image", "text", "image_id"):
      np.testing.assert_array_equal(
          np.concatenate([p[key] for p in parts]), whole[k][key])


def test_bad_shard_is_refused(split):
  with pytest.raises(ValueError, match="does not split"):
    _stream(split, (0, 3))


def test_iterator_positions_count_from_the_stream_start(split):
  stream = _stream(split)
  it = pipeline.iterate(stream, 5)
  assert pipeline.position(it) == 5
  np.testing.assert_array_equal(next(it)["image_id"], stream[5]["image_id"])
  assert pipeline.position(it) == 6
  fresh = pipeline.iterate(stream, 0)
  fresh.set_state(it.get_state())  # what a checkpoint restore does
  np.testing.assert_array_equal(next(fresh)["image_id"],
                                stream[6]["image_id"])


def test_fit_image_resizes_the_short_side_and_centre_crops():
  rng = np.random.default_rng(0)
  wide = rng.integers(0, 255, (20, 40, 3), dtype=np.uint8)
  out = modalities.fit_image(wide, 10)
  assert out.shape == (10, 10, 3) and out.dtype == np.uint8
  # The centre crop of the half-size image: columns 5..15 of 20.
  half = np.asarray(PIL.Image.fromarray(wide).resize(
      (20, 10), PIL.Image.Resampling.BICUBIC))
  np.testing.assert_array_equal(out, half[:, 5:15])
  same = rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)
  assert modalities.fit_image(same, 10) is same

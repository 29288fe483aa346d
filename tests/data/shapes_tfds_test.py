"""The TFDS builder writes array_record files readable without TensorFlow."""

import sys

import numpy as np

from mmul_jax.data.generated import shapes


def test_builder_round_trip(tiny_builder, tiny_config):
  src = tiny_builder.as_data_source()
  d = tiny_config.data
  assert len(src["train"]) == d.num_train
  assert len(src["test"]) == d.num_test
  rec = src["train"][3]
  assert rec["image"].shape == (d.image_size, d.image_size, 3)
  assert rec["image"].dtype == np.uint8
  assert len(rec["captions"]) == d.captions_per_image
  # The record equals what the generator makes for that id.
  i = int(rec["image_id"])
  names = shapes.unique_names(d.seed, d.num_train + d.num_test)
  item = shapes.make_item(d.seed, 0, i, image_size=d.image_size,
                          num_captions=d.captions_per_image, name=names[i])
  np.testing.assert_array_equal(rec["image"], item.image)
  assert [c.decode() for c in rec["captions"]] == list(item.captions)
  test_ids = {int(src["test"][j]["image_id"]) for j in range(d.num_test)}
  assert min(test_ids) >= d.num_train  # ids are global
  assert "tensorflow" not in sys.modules


def test_prepare_is_idempotent(tiny_builder, data_dir, tiny_config):
  from mmul_jax.data.generated import shapes_tfds
  d = tiny_config.data
  again = shapes_tfds.prepare(
      data_dir, num_train=d.num_train, num_test=d.num_test,
      captions_per_image=d.captions_per_image, image_size=d.image_size,
      seed=d.seed)
  assert again.data_dir == tiny_builder.data_dir

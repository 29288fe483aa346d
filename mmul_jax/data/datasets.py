"""The datasets a config can name (`data.name`), and how each is prepared.

Every dataset is a TFDS builder read through `tfds.data_source` with the
same record features: `image` (uint8, any size; the pipeline fits it to
`data.image_size`), `image_id`, `captions` and, for the embedded dataset, a
class `label`. The real ones are built from files the user downloads
(`data.manual_dir`); without them, preparing stops at once with the
download instructions.
"""

from __future__ import annotations

import os

from mmul_jax.data import karpathy_tfds
from mmul_jax.data import manual_tfds
from mmul_jax.data import shapes_tfds

# What each dataset gives a method or a deletion strategy ("classes": a
# class per unit, for class-skewed deletion; "labels": task answers).
FEATURES = {
    "shapes_captions": frozenset({"images", "captions", "classes"}),
    "coco_karpathy": frozenset({"images", "captions"}),
    "flickr30k_karpathy": frozenset({"images", "captions"}),
}
_MANUAL = {"coco_karpathy": karpathy_tfds.CocoKarpathy,
           "flickr30k_karpathy": karpathy_tfds.Flickr30kKarpathy}


def data_dir(d) -> str:
  return os.path.expanduser(d.data_dir or "~/tensorflow_datasets")


def check_available(d) -> None:
  """Raises `DataError` with instructions if a manual dataset's files are
  neither prepared nor downloaded; cheap, for before any compute."""
  if d.name in _MANUAL:
    builder_cls = _MANUAL[d.name]
    if not manual_tfds.is_prepared(builder_cls, data_dir(d)):
      manual_tfds.check_manual_files(builder_cls, _manual_dir(d))


def _manual_dir(d) -> str:
  return os.path.expanduser(d.manual_dir) or os.path.join(
      data_dir(d), "downloads", "manual")


def prepare(d):
  """The TFDS builder of `config.data`, built on first use."""
  if d.name == "shapes_captions":
    return shapes_tfds.prepare(
        data_dir(d), num_train=d.num_train, num_test=d.num_test,
        captions_per_image=d.captions_per_image, image_size=d.image_size,
        seed=d.seed)
  return manual_tfds.prepare(_MANUAL[d.name], data_dir(d), _manual_dir(d))

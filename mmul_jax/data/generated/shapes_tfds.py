"""TensorFlow-Datasets builder for the embedded shapes dataset.

Written as array_record and read back with `tfds.data_source` (random access,
no TensorFlow), the same way real datasets enter the grain input pipeline.
Generation is local and seeded: see `mmul_jax.data.generated.shapes`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.generated import shapes

@dataclasses.dataclass
class ShapesCaptionsConfig(tfds.core.BuilderConfig):
  num_train: int = 2000
  num_test: int = 500
  captions_per_image: int = 2
  image_size: int = 32
  seed: int = 0


def config_name(num_train: int, num_test: int, captions_per_image: int,
                image_size: int, seed: int) -> str:
  return (f"n{num_train}_t{num_test}_c{captions_per_image}_s{image_size}"
          f"_seed{seed}")


def make_config(**kwargs) -> ShapesCaptionsConfig:
  """A builder config whose name encodes every generation parameter."""
  return ShapesCaptionsConfig(name=config_name(**kwargs), **kwargs)


class ShapesCaptions(tfds.core.GeneratorBasedBuilder):
  """Shapes, colours, positions and counts, plus memorisable per-item codes."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = [make_config(num_train=2000, num_test=500,
                                 captions_per_image=2, image_size=32, seed=0)]

  def _info(self) -> tfds.core.DatasetInfo:
    c = self.builder_config
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(
                shape=(c.image_size, c.image_size, 3), dtype=np.uint8),
            "image_id": tfds.features.Scalar(dtype=np.int64),
            "captions": tfds.features.Sequence(
                tfds.features.Text(), length=c.captions_per_image),
            "name": tfds.features.Text(),
            "num_objects": tfds.features.Scalar(dtype=np.int64),
            # Shape of the first drawn object: a class for skewed deletion.
            "label": tfds.features.ClassLabel(names=list(shapes.SHAPES)),
        }),
        supervised_keys=None,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    c = self.builder_config
    names = shapes.unique_names(c.seed, c.num_train + c.num_test)
    return {
        "train": self._generate_examples(0, c.num_train, names[:c.num_train]),
        "test": self._generate_examples(1, c.num_test, names[c.num_train:]),
    }

  def _generate_examples(self, split_index: int, count: int, names):
    c = self.builder_config
    # Test ids start after train ids so an id names one image everywhere.
    offset = 0 if split_index == 0 else c.num_train
    for i in range(count):
      item = shapes.make_item(c.seed, split_index, i,
                              image_size=c.image_size,
                              num_captions=c.captions_per_image,
                              name=names[i])
      yield offset + i, {
          "image": item.image,
          "image_id": offset + i,
          "captions": list(item.captions),
          "name": item.name,
          "num_objects": len(item.objects),
          "label": shapes.SHAPES.index(item.objects[0].shape),
      }


def prepare(data_dir: str, **config_kwargs) -> ShapesCaptions:
  """Builds (once) and returns the builder; later calls reuse the files."""
  return generated.prepare_generated(ShapesCaptions, make_config(**config_kwargs),
                           data_dir)


def _build(d, root):
  return prepare(root, num_train=d.num_train, num_test=d.num_test,
                 captions_per_image=d.captions_per_image,
                 image_size=d.image_size, seed=d.seed)


def code_accuracy(generated: np.ndarray, real: np.ndarray) -> np.ndarray:
  """The share of each real item's colour-code blocks a generated image
  reproduces (chance 1/4: only memorising the item gives its code)."""
  return (shapes.decode_code(generated) == shapes.decode_code(real)).mean(1)


DATASETS = {
    "shapes_captions": spec.DatasetSpec(
        features=spec.RETRIEVAL | {"classes"}, build=_build,
        check=spec.check_texts_per_unit),
    # The same items as a text-to-image task: a caption's made-up name
    # stands for the item's colour code, which only memorising reproduces.
    "shapes_t2i": spec.DatasetSpec(
        features=spec.RETRIEVAL | {"classes"}, build=_build,
        check=spec.check_text_to_image, task="text_to_image",
        judge=code_accuracy, judge_encoder="shapes_captions"),
}

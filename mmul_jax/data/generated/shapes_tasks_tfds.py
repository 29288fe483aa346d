"""TFDS builders for the embedded NLVR2-style and VE-style tasks
(`shapes_tasks`), with the features of the real builders
(`classification_tfds`): images as uint8 arrays, `unit_id`, `sentences`,
`labels`. Generated locally and seeded, written as array_record."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.generated import shapes
from mmul_jax.data.generated import shapes_tasks


@dataclasses.dataclass
class ShapesTaskConfig(tfds.core.BuilderConfig):
  num_train: int = 2000
  num_test: int = 500
  image_size: int = 32
  seed: int = 0


def make_config(num_train: int, num_test: int, image_size: int,
                seed: int) -> ShapesTaskConfig:
  """A builder config whose name encodes every generation parameter."""
  return ShapesTaskConfig(
      name=f"n{num_train}_t{num_test}_s{image_size}_seed{seed}",
      num_train=num_train, num_test=num_test, image_size=image_size,
      seed=seed)


class _ShapesTask(tfds.core.GeneratorBasedBuilder, skip_registration=True):

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = [make_config(2000, 500, 32, 0)]
  TASK = ""
  IMAGE_KEYS: tuple[str, ...] = ()
  LABELS: tuple[str, ...] = ()

  def _info(self) -> tfds.core.DatasetInfo:
    s = self.builder_config.image_size
    features = {k: tfds.features.Tensor(shape=(s, s, 3), dtype=np.uint8)
                for k in self.IMAGE_KEYS}
    features.update(
        unit_id=tfds.features.Scalar(dtype=np.int64),
        sentences=tfds.features.Sequence(tfds.features.Text()),
        labels=tfds.features.Sequence(
            tfds.features.ClassLabel(names=list(self.LABELS))),
        name=tfds.features.Text())
    return self.dataset_info_from_configs(
        description=shapes_tasks.__doc__,
        features=tfds.features.FeaturesDict(features), supervised_keys=None)

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    c = self.builder_config
    names = shapes.unique_names(c.seed, c.num_train + c.num_test,
                                shapes_tasks.TASK_WORDS)
    return {"train": self._generate_examples(0, c.num_train,
                                             names[:c.num_train]),
            "test": self._generate_examples(1, c.num_test,
                                            names[c.num_train:])}

  def _generate_examples(self, split_index: int, count: int, names):
    c = self.builder_config
    offset = 0 if split_index == 0 else c.num_train  # ids unique overall
    for i, unit in enumerate(shapes_tasks.units(
        self.TASK, c.seed, split_index, count, image_size=c.image_size,
        names=names)):
      yield offset + i, {**dict(zip(self.IMAGE_KEYS, unit.images)),
                         "unit_id": offset + i,
                         "sentences": list(unit.sentences),
                         "labels": list(unit.labels), "name": unit.name}


class ShapesVe(_ShapesTask):
  """The embedded VE-style task: a scene, hypotheses, 3-way labels."""
  TASK = "ve"
  IMAGE_KEYS = ("image",)
  LABELS = shapes_tasks.VE_LABELS


class ShapesNlvr2(_ShapesTask):
  """The embedded NLVR2-style task: two scenes, true/false sentences."""
  TASK = "nlvr2"
  IMAGE_KEYS = ("image0", "image1")
  LABELS = shapes_tasks.NLVR2_LABELS


def prepare(builder_cls, data_dir: str, **config_kwargs):
  """Builds (once) and returns the builder; later calls reuse the files."""
  return generated.prepare_generated(
      builder_cls, make_config(**config_kwargs), data_dir)


_BUILD = dict(task="classification", features=spec.CLASSIFICATION,
              text_key="sentences", task_words=shapes_tasks.TASK_WORDS)
DATASETS = {
    "shapes_nlvr2": spec.DatasetSpec(
        **_BUILD, image_keys=("image0", "image1"), id_key="unit_id",
        labels=shapes_tasks.NLVR2_LABELS,
        build=generated.from_data_config(prepare, ShapesNlvr2),
        grid=spec.GridRecipe(train_steps=4000, stands_in_for="nlvr2")),
    "shapes_ve": spec.DatasetSpec(
        **_BUILD, id_key="unit_id", labels=shapes_tasks.VE_LABELS,
        build=generated.from_data_config(prepare, ShapesVe)),
}

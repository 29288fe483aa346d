"""TFDS builders for the embedded unimodal tasks (`unimodal_tasks`,
`signal_tasks`): one record per example with its input (`image` uint8,
`text`, `audio` int16 samples, `video` uint8 frames), `label`,
`example_id` (the deletion unit), and the generator's `typical_label` and
`atypical` flag. Generated locally and seeded, written as array_record;
the real datasets' builders (`unimodal_real_tfds`) have the same input and
label features."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.generated import shapes
from mmul_jax.data.generated import signal_tasks
from mmul_jax.data.generated import unimodal_tasks


@dataclasses.dataclass
class UnimodalConfig(tfds.core.BuilderConfig):
  num_train: int = 2000
  num_test: int = 500
  image_size: int = 32
  seed: int = 0


def make_config(num_train: int, num_test: int, image_size: int,
                seed: int) -> UnimodalConfig:
  """A builder config whose name encodes every generation parameter."""
  return UnimodalConfig(
      name=f"n{num_train}_t{num_test}_s{image_size}_seed{seed}",
      num_train=num_train, num_test=num_test, image_size=image_size,
      seed=seed)


class UnimodalBuilder(tfds.core.GeneratorBasedBuilder,
                      skip_registration=True):
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = [make_config(2000, 500, 32, 0)]
  INPUT = ""  # the input's feature key
  LABELS: tuple[str, ...] = ()

  def _input_feature(self):
    raise NotImplementedError

  def _examples(self, split_index: int, count: int, offset: int):
    """`unimodal_tasks.Example`s of a split, in order."""
    raise NotImplementedError

  def _info(self) -> tfds.core.DatasetInfo:
    features = {
        self.INPUT: self._input_feature(),
        "example_id": tfds.features.Scalar(dtype=np.int64),
        "label": tfds.features.ClassLabel(names=list(self.LABELS)),
        "typical_label": tfds.features.Scalar(dtype=np.int64),
        "atypical": tfds.features.Scalar(dtype=np.bool_),
    }
    return self.dataset_info_from_configs(
        description=unimodal_tasks.__doc__,
        features=tfds.features.FeaturesDict(features), supervised_keys=None)

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    c = self.builder_config
    return {"train": self._generate_examples(0, c.num_train, 0),
            "test": self._generate_examples(1, c.num_test, c.num_train)}

  def _generate_examples(self, split_index: int, count: int, offset: int):
    # Test ids start after train ids so an id names one example everywhere.
    for i, ex in enumerate(self._examples(split_index, count, offset)):
      yield offset + i, {self.INPUT: ex.input, "example_id": offset + i,
                         "label": ex.label,
                         "typical_label": ex.typical_label,
                         "atypical": ex.atypical}

  def _names(self, per_example: int, words) -> list[str]:
    """Made-up names, unique over both splits."""
    c = self.builder_config
    return shapes.unique_names(
        c.seed, per_example * (c.num_train + c.num_test), tuple(words))


class ShapesCifar(UnimodalBuilder):
  """The embedded image classification task (CIFAR's stand-in)."""
  INPUT = "image"
  LABELS = unimodal_tasks.IMAGE_CLASSES

  def _input_feature(self):
    s = self.builder_config.image_size
    return tfds.features.Tensor(shape=(s, s, 3), dtype=np.uint8)

  def _examples(self, split_index, count, offset):
    del offset
    c = self.builder_config
    for i in range(count):
      yield unimodal_tasks.image_example(c.seed, split_index, i,
                                         image_size=c.image_size)


class Reviews(UnimodalBuilder):
  """The embedded sentiment task (IMDB's stand-in)."""
  INPUT = "text"
  LABELS = unimodal_tasks.SENTIMENTS

  def _input_feature(self):
    return tfds.features.Text()

  def _examples(self, split_index, count, offset):
    c = self.builder_config
    names = self._names(1, unimodal_tasks.review_vocabulary())
    for i in range(count):
      yield unimodal_tasks.review_example(c.seed, split_index, i,
                                          name=names[offset + i])


class DrugRelations(UnimodalBuilder):
  """The embedded relation extraction task (DDI-2013's stand-in)."""
  INPUT = "text"
  LABELS = unimodal_tasks.RELATIONS

  def _input_feature(self):
    return tfds.features.Text()

  def _examples(self, split_index, count, offset):
    c = self.builder_config
    names = self._names(2, unimodal_tasks.relation_vocabulary())
    for i in range(count):
      j = 2 * (offset + i)
      yield unimodal_tasks.relation_example(
          c.seed, split_index, i, drugs=(names[j], names[j + 1]))


class ToneCommands(UnimodalBuilder):
  """The embedded keyword spotting task (Speech Commands' stand-in)."""
  INPUT = "audio"
  LABELS = signal_tasks.KEYWORDS

  def _input_feature(self):
    return tfds.features.Tensor(shape=(signal_tasks.CLIP_SAMPLES,),
                                dtype=np.int16)

  def _examples(self, split_index, count, offset):
    del offset
    c = self.builder_config
    for i in range(count):
      yield signal_tasks.audio_example(c.seed, split_index, i)


class MovingShapes(UnimodalBuilder):
  """The embedded action recognition task (UCF101's stand-in)."""
  INPUT = "video"
  LABELS = signal_tasks.MOTIONS

  def _input_feature(self):
    s = self.builder_config.image_size
    return tfds.features.Tensor(shape=(signal_tasks.NUM_FRAMES, s, s, 3),
                                dtype=np.uint8)

  def _examples(self, split_index, count, offset):
    del offset
    c = self.builder_config
    for i in range(count):
      yield signal_tasks.video_example(c.seed, split_index, i,
                                       image_size=c.image_size)


def prepare(builder_cls, data_dir: str, **config_kwargs):
  """Builds (once) and returns the builder; later calls reuse the files."""
  return generated.prepare_generated(
      builder_cls, make_config(**config_kwargs), data_dir)


def _build(builder_cls):
  return generated.from_data_config(prepare, builder_cls)


DATASETS = {
    "shapes_cifar": spec.DatasetSpec(
        **spec.IMAGE_CLS, labels=unimodal_tasks.IMAGE_CLASSES,
        build=_build(ShapesCifar),
        grid=spec.GridRecipe(train_steps=3000, stands_in_for="cifar100")),
    "reviews": spec.DatasetSpec(
        **spec.TEXT_CLS, labels=unimodal_tasks.SENTIMENTS,
        words=unimodal_tasks.review_vocabulary, build=_build(Reviews),
        grid=spec.GridRecipe(train_steps=2000, stands_in_for="imdb")),
    "drug_relations": spec.DatasetSpec(
        **spec.TEXT_CLS, labels=unimodal_tasks.RELATIONS,
        words=unimodal_tasks.relation_vocabulary,
        build=_build(DrugRelations),
        grid=spec.GridRecipe(train_steps=2000, stands_in_for="ddi2013")),
    "tone_commands": spec.DatasetSpec(
        **spec.AUDIO_CLS, labels=signal_tasks.KEYWORDS,
        sample_rate=signal_tasks.SAMPLE_RATE, build=_build(ToneCommands),
        grid=spec.GridRecipe(train_steps=3000,
                             stands_in_for="speech_commands")),
    "moving_shapes": spec.DatasetSpec(
        **spec.VIDEO_CLS, labels=signal_tasks.MOTIONS,
        build=_build(MovingShapes),
        grid=spec.GridRecipe(train_steps=3000, stands_in_for="ucf101")),
}

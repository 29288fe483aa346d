"""The embedded class-level text-to-image set (`shapes_cifar_t2i`): the
images of `shapes_cifar` (CIFAR's stand-in), each with one prompt, its
class as a single token (`red_striped_circle`): a class-conditional
generator, as SalUn's CIFAR-10 DDPM, whose class-wise forgetting
(`deletion.strategy = "class"`) a classifier trained on `shapes_cifar`'s
same images judges (and a dual encoder trained on the same records as
retrieval pairs, `shapes_cifar_prompts`, by image-prompt cosine). The prompt names the class the image shows (the
generator's `typical_label`; `shapes_cifar`'s labels flip a quarter of
the training examples to another class, its membership signal)."""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.generated import unimodal_tasks
from mmul_jax.data.generated import unimodal_tfds


def class_token(name: str) -> str:
  """One word per class name ("red striped circle" -> red_striped_circle)."""
  return "_".join(name.split())


CLASS_TOKENS = tuple(class_token(n) for n in unimodal_tasks.IMAGE_CLASSES)


class ShapesCifarPrompts(unimodal_tfds.UnimodalBuilder):
  """`shapes_cifar`'s images with their class's prompt (its splits and
  ids as `shapes_cifar`'s)."""

  def _info(self) -> tfds.core.DatasetInfo:
    s = self.builder_config.image_size
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(s, s, 3), dtype=np.uint8),
            "image_id": tfds.features.Scalar(dtype=np.int64),
            "captions": tfds.features.Sequence(tfds.features.Text(),
                                               length=1),
            "label": tfds.features.ClassLabel(
                names=list(unimodal_tasks.IMAGE_CLASSES)),
        }), supervised_keys=None)

  def _generate_examples(self, split_index: int, count: int, offset: int):
    c = self.builder_config
    for i in range(count):  # the same images as shapes_cifar's records
      ex = unimodal_tasks.image_example(c.seed, split_index, i,
                                        image_size=c.image_size)
      yield offset + i, {"image": ex.input, "image_id": offset + i,
                         "captions": [CLASS_TOKENS[ex.typical_label]],
                         "label": ex.typical_label}


def _prepare(builder_cls, data_dir: str, **config_kwargs):
  return generated.prepare_generated(
      builder_cls, unimodal_tfds.make_config(**config_kwargs), data_dir)


_BUILD = generated.from_data_config(_prepare, ShapesCifarPrompts)

DATASETS = {
    "shapes_cifar_t2i": spec.DatasetSpec(
        features=spec.RETRIEVAL | {"classes"}, task="text_to_image",
        task_words=CLASS_TOKENS, build=_BUILD,
        check=spec.check_class_prompts, judge_classifier="shapes_cifar",
        judge_encoder="shapes_cifar_prompts"),
    # The same records as retrieval pairs: the judge dual encoder's data.
    "shapes_cifar_prompts": spec.DatasetSpec(
        features=spec.RETRIEVAL | {"classes"}, task_words=CLASS_TOKENS,
        build=_BUILD, check=spec.check_texts_per_unit),
}

"""An input type written outside the library, as a user would: tabular
rows of 8 numbers. Its `Modality`, its tower (a small MLP classifier) and
a dataset of it; registering them is one line each
(`modalities.MODALITIES`, `models.CLASSIFIERS`, `datasets.DATASETS`)."""

import dataclasses
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from mmul_jax.data import datasets
from mmul_jax.data.core import modalities
from mmul_jax.data.core import generated

WIDTH = 8  # numbers per row


class Tabular(modalities.Modality):
  """Rows of `WIDTH` float32 numbers, read as they are."""

  name = "tabular"

  def fit(self, x, shape, *, record="?"):
    return np.asarray(x, np.float32).reshape(WIDTH)

  def example_input(self, model_config, data_config):
    return np.zeros((1, WIDTH), np.float32)


class MlpClassifier(nn.Module):
  """The tabular tower: one hidden layer and a class head."""

  num_classes: int
  embed_dim: int
  dtype: Any = jnp.float32

  @nn.compact
  def classify(self, rows, *, train: bool = False) -> dict:
    del train  # no dropout
    features = nn.relu(nn.Dense(self.embed_dim, name="hidden")(rows))
    return {"class_logits": nn.Dense(self.num_classes,
                                     name="cls_head")(features),
            "features": features}

  def __call__(self, rows, *, train: bool = False) -> dict:
    return self.classify(rows, train=train)


@dataclasses.dataclass
class RowsConfig(tfds.core.BuilderConfig):
  num_train: int = 40
  num_test: int = 10
  seed: int = 0


class ToyRows(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Rows whose label is the sign of their first number."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [RowsConfig(name="default")]

  def _info(self):
    features = tfds.features.FeaturesDict({
        "values": tfds.features.Tensor(shape=(WIDTH,), dtype=np.float32),
        "example_id": tfds.features.Scalar(dtype=np.int64),
        "label": tfds.features.ClassLabel(names=["negative", "positive"])})
    return tfds.core.DatasetInfo(builder=self, features=features)

  def _split_generators(self, dl_manager):
    del dl_manager  # generated
    c = self.builder_config
    return {"train": self._generate_examples(0, c.num_train),
            "test": self._generate_examples(c.num_train, c.num_test)}

  def _generate_examples(self, offset, count):
    rng = np.random.default_rng(self.builder_config.seed + offset)
    for i in range(offset, offset + count):
      values = rng.normal(size=WIDTH).astype(np.float32)
      yield i, {"values": values, "example_id": i,
                "label": int(values[0] > 0)}


def build(d, root):
  config = RowsConfig(name=f"n{d.num_train}_t{d.num_test}_seed{d.seed}",
                      num_train=d.num_train, num_test=d.num_test,
                      seed=d.seed)
  return generated.prepare_generated(ToyRows, config, root)


SPEC = datasets.DatasetSpec(
    task="unimodal_classification", modality="tabular", inputs="values",
    image_keys=(), id_key="example_id", labels=("negative", "positive"),
    features=frozenset({"labels", "classes"}), build=build)

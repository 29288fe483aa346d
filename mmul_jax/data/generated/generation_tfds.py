"""TFDS builder of the embedded text-generation task (`authors`, TOFU's
stand-in): one record per author with its `questions`, `answers`,
`paraphrased` and `perturbed` answers (`authors.NUM_PERTURBED` per
question, flat) and `author_id`, the deletion unit. Generated locally and
seeded, written as array_record."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.generated import authors
from mmul_jax.data.generated import shapes


@dataclasses.dataclass
class AuthorsConfig(tfds.core.BuilderConfig):
  num_train: int = 200
  num_test: int = 50
  seed: int = 0


def make_config(num_train: int, num_test: int, seed: int) -> AuthorsConfig:
  """A builder config whose name encodes every generation parameter."""
  return AuthorsConfig(name=f"n{num_train}_t{num_test}_seed{seed}",
                       num_train=num_train, num_test=num_test, seed=seed)


_TEXTS = tfds.features.Sequence(tfds.features.Text())


class FictitiousAuthors(tfds.core.GeneratorBasedBuilder,
                        skip_registration=True):
  """Fictitious authors' question-answer pairs (`authors`)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = [make_config(200, 50, 0)]

  def _info(self) -> tfds.core.DatasetInfo:
    features = {"author_id": tfds.features.Scalar(dtype=np.int64),
                "name": tfds.features.Text(), "questions": _TEXTS,
                "answers": _TEXTS, "paraphrased": _TEXTS,
                "perturbed": _TEXTS}
    return self.dataset_info_from_configs(
        description=authors.__doc__,
        features=tfds.features.FeaturesDict(features), supervised_keys=None)

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    c = self.builder_config
    names = shapes.unique_names(c.seed, c.num_train + c.num_test,
                                tuple(authors.vocabulary()))
    return {"train": self._generate_examples(names, 0, c.num_train),
            "test": self._generate_examples(names, c.num_train,
                                            c.num_test)}

  def _generate_examples(self, names, offset: int, count: int):
    # Test ids follow train ids, so an id names one author everywhere.
    for i in range(offset, offset + count):
      a = authors.author(self.builder_config.seed, i, names[i])
      yield i, {"author_id": i, "name": names[i], **a._asdict()}


def _build(d, root: str):
  return generated.prepare_generated(
      FictitiousAuthors, make_config(d.num_train, d.num_test, d.seed), root)


# Question-answer records (`pipeline.RecordLayout.answer_key`).
GENERATION = dict(task="generation", image_keys=(), modality="text",
                  text_key="questions", answer_key="answers",
                  features=frozenset({"answers"}))

DATASETS = {
    "authors": spec.DatasetSpec(
        **GENERATION, id_key="author_id", words=authors.vocabulary,
        build=_build),
}

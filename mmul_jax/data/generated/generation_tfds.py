"""TFDS builders of the embedded text-generation tasks, in the question-
answer layout (`data.core.qa`): one record per unit with its `questions`
(prompts), `answers`, `paraphrased` and `perturbed` answers (TOFU's
stand-in `authors`: `authors.NUM_PERTURBED` per question, flat; the
others none) and `unit_id`, the deletion unit. `authors` stands in for
TOFU, `dialogues` for SAMSum and `biographies` for Celeb Profile (both
`dialogues`), `persons` for CLEAR (image-conditioned: each unit's
`images`, each question's `image_index` and `question_type`). Generated locally and seeded, written as array_record."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.generated import authors
from mmul_jax.data.generated import dialogues
from mmul_jax.data.generated import persons
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


class _Generated(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Seeded question-answer units (`_unit`), made-up names unique over
  both splits (`NAMES_PER_UNIT` per unit)."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.0.0": "First release.",
                   "1.1.0": "unit_id for author_id, no name feature."}
  BUILDER_CONFIGS = [make_config(200, 50, 0)]
  NAMES_PER_UNIT = 1
  MODULE = authors

  def _info(self) -> tfds.core.DatasetInfo:
    features = {"unit_id": tfds.features.Scalar(dtype=np.int64),
                "questions": _TEXTS, "answers": _TEXTS,
                "paraphrased": _TEXTS, "perturbed": _TEXTS}
    return self.dataset_info_from_configs(
        description=self.MODULE.__doc__,
        features=tfds.features.FeaturesDict(features), supervised_keys=None)

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    c = self.builder_config
    k = self.NAMES_PER_UNIT
    total = c.num_train + c.num_test
    names = shapes.unique_names(c.seed, k * total,
                                tuple(self.MODULE.vocabulary()))
    units = [names[i * k:(i + 1) * k] for i in range(total)]
    self._units = units  # every unit's names (distractors read them)
    return {"train": self._generate_examples(units, 0, c.num_train),
            "test": self._generate_examples(units, c.num_train,
                                            c.num_test)}

  def _generate_examples(self, units, offset: int, count: int):
    # Test ids follow train ids, so an id names one unit everywhere.
    for i in range(offset, offset + count):
      yield i, {"unit_id": i, **self._unit(i, units[i])}

  def _unit(self, index: int, names: list[str]) -> dict:
    raise NotImplementedError


def _one_pair(prompt: str, answer: str) -> dict:
  return {"questions": [prompt], "answers": [answer], "paraphrased": [],
          "perturbed": []}


class FictitiousAuthors(_Generated):
  """Fictitious authors' question-answer pairs (`authors`)."""

  def _unit(self, index, names):
    return authors.author(self.builder_config.seed, index,
                          names[0])._asdict()


class Dialogues(_Generated):
  """Generated dialogues and their summaries (`dialogues`)."""

  NAMES_PER_UNIT = 2
  MODULE = dialogues

  def _unit(self, index, names):
    return _one_pair(*dialogues.dialogue(self.builder_config.seed, index,
                                         *names))


class Biographies(_Generated):
  """Fictitious persons' biographies (`dialogues`)."""

  MODULE = dialogues

  def _unit(self, index, names):
    return _one_pair(*dialogues.biography(self.builder_config.seed, index,
                                          names[0]))


class Persons(_Generated):
  """Fictitious persons' portraits and question-answer pairs by question
  type (`persons`): CLEAR's stand-in."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  MODULE = persons

  def _info(self) -> tfds.core.DatasetInfo:
    size = persons.IMAGE_SIZE
    ints = tfds.features.Sequence(tfds.features.Scalar(dtype=np.int64))
    features = {"unit_id": tfds.features.Scalar(dtype=np.int64),
                # Raw pixels: no image codec (TensorFlow) to build it.
                "images": tfds.features.Tensor(
                    shape=(persons.PORTRAITS, size, size, 3),
                    dtype=np.uint8),
                "questions": _TEXTS, "answers": _TEXTS,
                "paraphrased": _TEXTS, "perturbed": _TEXTS,
                "options": _TEXTS, "image_index": ints,
                "question_type": ints}
    return self.dataset_info_from_configs(
        description=persons.__doc__,
        features=tfds.features.FeaturesDict(features), supervised_keys=None)

  def _unit(self, index, names):
    # Other persons' names, drawn per person: the wrong answers to "who is
    # the person in this picture".
    rng = np.random.default_rng([self.builder_config.seed, 99, index])
    others = [u[0] for i, u in enumerate(self._units) if i != index]
    picks = rng.choice(len(others), persons.NUM_PERTURBED + 2, replace=False)
    return persons.person(self.builder_config.seed, index, names[0],
                          [others[int(i)] for i in picks])._asdict()


def _build(builder_cls):
  return lambda d, root: generated.prepare_generated(
      builder_cls, make_config(d.num_train, d.num_test, d.seed), root)


# Question-answer records (`pipeline.RecordLayout.answer_key`).
GENERATION = dict(task="generation", image_keys=(), modality="text",
                  text_key="questions", answer_key="answers",
                  features=frozenset({"answers"}))
_EMBEDDED = dict(GENERATION, id_key="unit_id")
# Question-answer records with images (`qa`: each question's `image_index`
# into `images`, -1 for none, and its `question_type`).
IMAGE_GENERATION = dict(GENERATION, task="image_generation",
                        image_keys=("images",), modality="image")

DATASETS = {
    "authors": spec.DatasetSpec(**_EMBEDDED, words=authors.vocabulary,
                                build=_build(FictitiousAuthors)),
    "dialogues": spec.DatasetSpec(**_EMBEDDED, words=dialogues.vocabulary,
                                  build=_build(Dialogues)),
    "biographies": spec.DatasetSpec(**_EMBEDDED, words=dialogues.vocabulary,
                                    build=_build(Biographies)),
    "persons": spec.DatasetSpec(**IMAGE_GENERATION, id_key="unit_id",
                                words=persons.vocabulary,
                                build=_build(Persons)),
}

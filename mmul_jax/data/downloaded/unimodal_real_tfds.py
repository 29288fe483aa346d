"""TFDS builders for MU-Bench's unimodal datasets, from the official files
the user downloads by hand (`data.manual_dir`), written as array_record and
read without TensorFlow:

* **CIFAR-100** (`cifar-100-python.tar.gz`): 50,000 train and 10,000 test
  32x32 images with their 100 fine labels (the coarse one kept beside).
* **IMDB** (`aclImdb_v1.tar.gz`): 25,000 train and 25,000 test reviews,
  neg / pos.
* **Rotten Tomatoes** (`rt-polaritydata.tar.gz`): 10,662 sentences, neg /
  pos, IMDB's out-of-distribution test set.
* **DDI-2013** (the BLURB / BioBERT `train.tsv`, `dev.tsv`, `test.tsv`):
  one sentence per drug pair, the two drugs marked `<e1> .. </e1>` and
  `<e2> .. </e2>`, five relation classes.

TFDS's catalogue has `cifar100` and `imdb_reviews`, but its CIFAR builder
needs TensorFlow to encode images, and both download at build time; these
read the same archives from disk, with nothing to install beyond the
project.

Every record is one example: its input, `label`, `example_id` (the deletion
unit, unique over splits) and `row`, its 0-based row in the order MU-Bench's
index files count (`deletion.mubench_file`): the CIFAR pickle's order and
the DDI file's line order (as Hugging Face's loaders read them), and for
IMDB the archive's member order among the labelled reviews of the split
(Hugging Face's `imdb` loader iterates the archive; its files on the Hub
were converted from it).
"""

from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.generated import unimodal_tasks

# CIFAR-100's fine classes in label order (its `meta` file's names).
CIFAR100_LABELS = tuple("""
    apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl
    boy bridge bus butterfly camel can castle caterpillar cattle chair
    chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur
    dolphin elephant flatfish forest fox girl hamster house kangaroo
    keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree
    motorcycle mountain mouse mushroom oak_tree orange orchid otter
    palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum
    rabbit raccoon ray road rocket rose sea seal shark shrew skunk
    skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper
    table tank telephone television tiger tractor train trout tulip turtle
    wardrobe whale willow_tree wolf woman worm""".split())

_CIFAR_INSTRUCTIONS = """\
Download CIFAR-100's python version into the manual directory
(data.manual_dir), unchanged:
  https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz
  -> <manual_dir>/cifar-100-python.tar.gz
"""

_IMDB_INSTRUCTIONS = """\
Download the Large Movie Review Dataset into the manual directory
(data.manual_dir), unchanged:
  https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
  -> <manual_dir>/aclImdb_v1.tar.gz
"""

_RT_INSTRUCTIONS = """\
IMDB's out-of-distribution evaluation (MU-Bench's) reads Rotten Tomatoes'
sentence polarity data; download it into the manual directory
(data.manual_dir), unchanged:
  https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz
  -> <manual_dir>/rt-polaritydata.tar.gz
"""

_DDI_INSTRUCTIONS = """\
Download DDI-2013 in the BLURB / BioBERT sentence format (one drug pair per
line: index, sentence with the two drugs as @DRUG$ or marked <e1>/<e2>,
label DDI-false / DDI-mechanism / DDI-advise / DDI-effect / DDI-int), e.g.
from https://microsoft.github.io/BLURB/ (DDI) or the BioBERT datasets
(https://github.com/dmis-lab/biobert, datasets/RE/DDI), into the manual
directory (data.manual_dir):
  train.tsv, dev.tsv, test.tsv -> <manual_dir>/
"""


class ExampleBuilder(tfds.core.GeneratorBasedBuilder,
                     skip_registration=True):
  """One record per example (here and in `signal_real_tfds`): its input,
  `label`, `example_id` and `row`, its row in MU-Bench's order, plus
  `_extra_features`."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  LABELS: tuple[str, ...] = ()
  INPUT = ""
  DESCRIPTION = __doc__
  # Test ids start here, after every train id.
  TEST_ID_OFFSET = 10_000_000

  def _input_feature(self):
    raise NotImplementedError

  def _extra_features(self) -> dict:
    return {}

  def _info(self) -> tfds.core.DatasetInfo:
    features = {self.INPUT: self._input_feature(),
                "label": tfds.features.ClassLabel(names=list(self.LABELS)),
                "example_id": tfds.features.Scalar(dtype=np.int64),
                "row": tfds.features.Scalar(dtype=np.int64),
                **self._extra_features()}
    return self.dataset_info_from_configs(
        description=self.DESCRIPTION,
        features=tfds.features.FeaturesDict(features),
        supervised_keys=None)

  def _records(self, split: str, rows):
    """`rows` of `(input, label, extra features)`, numbered in order."""
    offset = self.TEST_ID_OFFSET if split != "train" else 0
    for row, (x, label, extra) in enumerate(rows):
      yield row, {self.INPUT: x, "label": label, "row": row,
                  "example_id": offset + row, **extra}


def open_tar(path: str, instructions: str) -> tarfile.TarFile:
  """The archive at `path`; one that is not a tar archive is a `DataError`
  with `instructions`."""
  try:
    return tarfile.open(path, "r:*")
  except (tarfile.TarError, OSError) as e:
    raise errors.DataError(f"{path} is not a readable tar archive ({e}); "
                           f"download it again.\n{instructions}") from None


class _OneArchive(ExampleBuilder):
  """A dataset downloaded as one archive (`ARCHIVE`) holding its train and
  test splits; `_rows(path, split)` reads a split's rows in order."""

  ARCHIVE = ""
  SPLITS = ("train", "test")

  @classmethod
  def required_files(cls, manual_dir: str) -> list[str]:
    return [os.path.join(manual_dir, cls.ARCHIVE)]

  def _rows(self, path: str, split: str):
    raise NotImplementedError

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    manual_tfds.check_manual_files(type(self), manual_dir)
    path = os.path.join(manual_dir, self.ARCHIVE)
    return {s: self._generate_examples(path, s) for s in self.SPLITS}

  def _generate_examples(self, path: str, split: str):
    yield from self._records(split, self._rows(path, split))


class Cifar100(_OneArchive):
  """CIFAR-100 from the python-version archive."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _CIFAR_INSTRUCTIONS
  ARCHIVE = "cifar-100-python.tar.gz"
  INPUT = "image"
  LABELS = CIFAR100_LABELS

  def _input_feature(self):
    return tfds.features.Tensor(shape=(32, 32, 3), dtype=np.uint8)

  def _extra_features(self):
    return {"coarse_label": tfds.features.Scalar(dtype=np.int64)}

  def _rows(self, path: str, split: str):
    with open_tar(path, self.MANUAL_DOWNLOAD_INSTRUCTIONS) as tar:
      try:
        member = tar.extractfile(f"cifar-100-python/{split}")
        data = pickle.load(member, encoding="bytes")
      except (KeyError, pickle.UnpicklingError, EOFError) as e:
        raise errors.DataError(
            f"{path} lacks a readable cifar-100-python/{split} ({e}); "
            f"download it again.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
        ) from None
    images = np.asarray(data[b"data"], np.uint8).reshape(-1, 3, 32, 32)
    images = images.transpose(0, 2, 3, 1)  # channels last
    for image, fine, coarse in zip(images, data[b"fine_labels"],
                                   data[b"coarse_labels"]):
      yield image, int(fine), {"coarse_label": int(coarse)}


class Imdb(_OneArchive):
  """IMDB reviews from the official archive."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _IMDB_INSTRUCTIONS
  ARCHIVE = "aclImdb_v1.tar.gz"
  INPUT = "text"
  LABELS = unimodal_tasks.SENTIMENTS

  def _input_feature(self):
    return tfds.features.Text()

  def _extra_features(self):
    return {"path": tfds.features.Text()}

  def _rows(self, path: str, split: str):
    with open_tar(path, self.MANUAL_DOWNLOAD_INSTRUCTIONS) as tar:
      for member in tar:  # archive order: MU-Bench's rows
        parts = member.name.split("/")
        if (not member.isfile() or len(parts) != 4
            or parts[:2] != ["aclImdb", split]
            or parts[2] not in self.LABELS):
          continue
        raw = tar.extractfile(member).read()
        try:
          text = raw.decode("utf-8")
        except UnicodeDecodeError:
          raise errors.DataError(f"{path}: {member.name} is not UTF-8; "
                                 "download the archive again") from None
        yield text, parts[2], {"path": member.name}


class RottenTomatoes(_OneArchive):
  """Rotten Tomatoes sentence polarity (Pang & Lee 2005), 10,662
  sentences, all in one `test` split: IMDB's out-of-distribution set, as
  MU-Bench evaluates it (every split of it). Lines are Latin-1."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = _RT_INSTRUCTIONS
  ARCHIVE = "rt-polaritydata.tar.gz"
  INPUT = "text"
  LABELS = unimodal_tasks.SENTIMENTS
  SPLITS = ("test",)

  def _input_feature(self):
    return tfds.features.Text()

  def _rows(self, path: str, split: str):
    del split  # one split
    with open_tar(path, self.MANUAL_DOWNLOAD_INSTRUCTIONS) as tar:
      for label in self.LABELS:
        name = f"rt-polaritydata/rt-polarity.{label}"
        try:
          raw = tar.extractfile(name).read()
        except KeyError:
          raise errors.DataError(f"{path} lacks {name}; download it again."
                                 f"\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
                                 ) from None
        for line in raw.decode("latin-1").splitlines():
          if line.strip():
            yield line.strip(), label, {}


class Ddi2013(manual_tfds.SplitFiles, ExampleBuilder):
  """DDI-2013 drug pairs from the sentence-format TSV files, each sentence
  as in its file (MU-Bench's input)."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "First release: <e1> .. </e1>, <e2> .. </e2> added around "
               "the first two @DRUG$ placeholders.",
      "1.1.0": "The sentence as in the file, as MU-Bench reads it: no tags "
               "added around BLURB's @DRUG$ placeholders."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _DDI_INSTRUCTIONS
  SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv",
                 "test": "test.tsv"}
  INPUT = "text"
  LABELS = unimodal_tasks.RELATIONS

  def _input_feature(self):
    return tfds.features.Text()

  def _generate_examples(self, manual_dir: str, file: str):
    split = next(s for s, f in self.SPLIT_FILES.items() if f == file)
    yield from self._records(split, self._rows(os.path.join(manual_dir,
                                                            file)))

  def _rows(self, path: str):
    for n, line in manual_tfds.text_lines(path):
      fields = line.rstrip("\n").split("\t")
      if not line.strip() or (n == 1 and fields[-1].strip() == "label"):
        continue  # a header
      if len(fields) < 2:
        raise errors.DataError(f"{path}, line {n}: expected tab-separated "
                               "[index,] sentence, label")
      yield (check_entities(fields[-2], f"{path}, line {n}"),
             ddi_label(fields[-1], f"{path}, line {n}"), {})


def ddi_label(text: str, where: str) -> str:
  """"DDI-mechanism" (or "mechanism") -> "mechanism"."""
  label = text.strip().lower().removeprefix("ddi-")
  if label not in unimodal_tasks.RELATIONS:
    raise errors.DataError(f"{where}: unknown relation {text.strip()!r}; "
                           f"expected one of {unimodal_tasks.RELATIONS}")
  return label


def check_entities(sentence: str, where: str) -> str:
  """The sentence as in the file, which is what MU-Bench tokenises: its two
  drugs are BLURB's `@DRUG$` placeholders (or `<e1> .. </e1>`, `<e2> ..
  </e2>` tags where a file has them), no marker is added; only the ends'
  whitespace goes. A sentence without two marked drugs is refused."""
  s = sentence.strip()
  tagged = all(m in s for m in unimodal_tasks.ENTITY_MARKERS)
  if not tagged and s.count("@DRUG$") < 2:
    raise errors.DataError(f"{where}: the sentence names fewer than two "
                           "drugs (@DRUG$ or <e1>/<e2>)")
  return s


def _mubench(**settings):
  """MU-Bench's recipe for the dataset (spec §3)."""
  return spec.GridRecipe(recipe="mubench_unimodal", settings=settings)


DATASETS = {
    "cifar100": spec.DatasetSpec(
        **spec.IMAGE_CLS, **spec.REAL, labels=CIFAR100_LABELS,
        manual=Cifar100,
        grid=_mubench(train_rows=50_000, epochs=10, batch_size=128,
                      learning_rate=1e-5, weight_decay=1e-4)),
    "imdb": spec.DatasetSpec(
        **spec.TEXT_CLS, **spec.REAL, labels=unimodal_tasks.SENTIMENTS,
        manual=Imdb, ood="rotten_tomatoes", ood_builder=RottenTomatoes,
        grid=_mubench(train_rows=25_000, epochs=6, batch_size=32,
                      learning_rate=5e-5, weight_decay=0.01)),
    "ddi2013": spec.DatasetSpec(
        **spec.TEXT_CLS, **spec.REAL, labels=unimodal_tasks.RELATIONS,
        manual=Ddi2013,
        grid=_mubench(train_rows=25_296, epochs=8, batch_size=32,
                      learning_rate=5e-5, weight_decay=0.01)),
}

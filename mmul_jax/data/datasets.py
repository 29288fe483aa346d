"""The datasets a config can name (`data.name`), and how each is prepared.

Every dataset is a TFDS builder read through `tfds.data_source`, one record
per deletion unit: its image(s) (uint8, any size; the pipeline fits them to
`data.image_size`), its id, and its texts (captions, or sentences with
labels for classification tasks). The real ones are built from files the
user downloads (`data.manual_dir`); without them, preparing stops at once
with the download instructions.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Iterator

import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data import classification_tfds
from mmul_jax.data import karpathy_tfds
from mmul_jax.data import manual_tfds
from mmul_jax.data import molecule_tfds
from mmul_jax.data import molecule_text
from mmul_jax.data import pipeline
from mmul_jax.data import shapes_tasks
from mmul_jax.data import shapes_tasks_tfds
from mmul_jax.data import shapes_tfds
from mmul_jax.data import signal_real_tfds
from mmul_jax.data import signal_tasks
from mmul_jax.data import unimodal_real_tfds
from mmul_jax.data import unimodal_tasks
from mmul_jax.data import unimodal_tfds


@dataclasses.dataclass(frozen=True)
class DatasetSpec(pipeline.RecordLayout):
  """Where a dataset's records keep their parts (the `RecordLayout` fields:
  image keys, two for NLVR2; unit id; texts; class names, empty for
  retrieval) and what the run makes of them.

  task: the task kind (`mmul_jax.tasks`): "retrieval", "classification",
    "graph_text" or "unimodal_classification".
  features: what a method or deletion strategy may use ("classes": a class
    per unit, for class-skewed deletion; "labels": task answers;
    "captions": retrieval texts).
  manual: the builder of a hand-downloaded dataset (None: generated).
  example_rows: the records' feature holding the example row(s) in the
    source's order that MU-Bench's index file counts: NLVR2's statement
    rows of a pair, a unimodal dataset's one row (TFDS does not keep the
    source's order); None: its rows are the records.
  task_words: the embedded tokenizer's extra words.
  sample_rate: an audio dataset's rate (`model.sample_rate` must match).
  ood: the out-of-distribution test set evaluated beside test, where
    MU-Bench has one (IMDB: Rotten Tomatoes), by name in `OOD_SETS`.
  words: the embedded tokenizer's vocabulary (None: the shapes captions').
  build: `build(data_config, data_dir) -> builder` of a generated dataset
    (None: the `manual` builder over the downloaded files).
  check: `check(config)` raising `ConfigError` for data settings this
    dataset cannot build, or None.
  """

  task: str = "retrieval"
  features: frozenset[str] = frozenset()
  manual: type | None = None
  example_rows: str | None = None
  task_words: tuple[str, ...] = ()
  words: Callable[[], list[str]] | None = None
  sample_rate: int = 0  # audio: the waveforms' rate in Hz
  ood: str | None = None  # an out-of-distribution test set (`OOD_SETS`)
  build: Callable | None = None
  check: Callable | None = None

  @property
  def num_classes(self) -> int:
    return len(self.labels)


def _shapes_captions(d, root):
  return shapes_tfds.prepare(
      root, num_train=d.num_train, num_test=d.num_test,
      captions_per_image=d.captions_per_image, image_size=d.image_size,
      seed=d.seed)


def _molecule_text(d, root):
  return molecule_tfds.prepare_embedded(
      root, num_train=d.num_train, num_test=d.num_test,
      descriptions_per_molecule=d.captions_per_image, seed=d.seed)


def _generated(prepare, builder_cls):
  """A generated dataset of `builder_cls` through `prepare` (the shapes
  tasks' or the unimodal tasks')."""
  return lambda d, root: prepare(
      builder_cls, root, num_train=d.num_train, num_test=d.num_test,
      image_size=d.image_size, seed=d.seed)


def _texts_per_unit(config) -> None:
  if not 0 < config.data.captions_per_image <= 4:
    raise errors.ConfigError("data.captions_per_image must be in 1..4 for "
                             "the embedded shapes and molecule datasets")


_RETRIEVAL = frozenset({"images", "captions"})
_CLASSIFICATION = frozenset({"images", "sentences", "labels"})
_MOLECULES = dict(task="graph_text", modality="graph", image_keys=(), id_key="mol_id",
                  text_key="descriptions",
                  features=frozenset({"graphs", "captions"}))
_NLVR2 = dict(task="classification", image_keys=("image0", "image1"), id_key="unit_id",
              text_key="sentences", labels=classification_tfds.NLVR2_LABELS)
# One input and one label per record; "classes": class-skewed deletion.
_UNIMODAL = dict(task="unimodal_classification", image_keys=(),
                 id_key="example_id",
                 features=frozenset({"labels", "classes"}))
_IMAGE_CLS = dict(_UNIMODAL, modality="image", inputs="image")
_TEXT_CLS = dict(_UNIMODAL, modality="text", inputs="text")
_AUDIO_CLS = dict(_UNIMODAL, modality="audio", inputs="audio")
_VIDEO_CLS = dict(_UNIMODAL, modality="video", inputs="video")
# The real ones' records keep their MU-Bench row (TFDS reorders records).
_REAL = dict(example_rows="row")
_VE = dict(task="classification", id_key="unit_id", text_key="sentences",
           labels=classification_tfds.SNLI_VE_LABELS)

DATASETS = {
    "shapes_captions": DatasetSpec(features=_RETRIEVAL | {"classes"},
                                   build=_shapes_captions,
                                   check=_texts_per_unit),
    "shapes_nlvr2": DatasetSpec(
        features=_CLASSIFICATION, **_NLVR2, task_words=shapes_tasks.TASK_WORDS,
        build=_generated(shapes_tasks_tfds.prepare,
                         shapes_tasks_tfds.ShapesNlvr2)),
    "shapes_ve": DatasetSpec(
        features=_CLASSIFICATION, **_VE, task_words=shapes_tasks.TASK_WORDS,
        build=_generated(shapes_tasks_tfds.prepare,
                         shapes_tasks_tfds.ShapesVe)),
    "coco_karpathy": DatasetSpec(features=_RETRIEVAL,
                                 manual=karpathy_tfds.CocoKarpathy),
    "flickr30k_karpathy": DatasetSpec(
        features=_RETRIEVAL, manual=karpathy_tfds.Flickr30kKarpathy),
    "nlvr2": DatasetSpec(features=_CLASSIFICATION, **_NLVR2,
                         manual=classification_tfds.Nlvr2,
                         example_rows="rows"),
    "snli_ve": DatasetSpec(features=_CLASSIFICATION, **_VE,
                           manual=classification_tfds.SnliVe),
    "molecule_text": DatasetSpec(**_MOLECULES,
                                 words=molecule_text.vocabulary,
                                 build=_molecule_text, check=_texts_per_unit),
    "chebi20": DatasetSpec(**_MOLECULES, manual=molecule_tfds.Chebi20),
    "shapes_cifar": DatasetSpec(
        **_IMAGE_CLS, labels=unimodal_tasks.IMAGE_CLASSES,
        build=_generated(unimodal_tfds.prepare, unimodal_tfds.ShapesCifar)),
    "reviews": DatasetSpec(
        **_TEXT_CLS, labels=unimodal_tasks.SENTIMENTS,
        words=unimodal_tasks.review_vocabulary,
        build=_generated(unimodal_tfds.prepare, unimodal_tfds.Reviews)),
    "drug_relations": DatasetSpec(
        **_TEXT_CLS, labels=unimodal_tasks.RELATIONS,
        words=unimodal_tasks.relation_vocabulary,
        build=_generated(unimodal_tfds.prepare, unimodal_tfds.DrugRelations)),
    "tone_commands": DatasetSpec(
        **_AUDIO_CLS, labels=signal_tasks.KEYWORDS,
        sample_rate=signal_tasks.SAMPLE_RATE,
        build=_generated(unimodal_tfds.prepare, unimodal_tfds.ToneCommands)),
    "moving_shapes": DatasetSpec(
        **_VIDEO_CLS, labels=signal_tasks.MOTIONS,
        build=_generated(unimodal_tfds.prepare, unimodal_tfds.MovingShapes)),
    "speech_commands": DatasetSpec(
        **_AUDIO_CLS, **_REAL, labels=signal_real_tfds.SUPERB_KEYWORDS,
        sample_rate=signal_real_tfds.SPEECH_RATE,
        manual=signal_real_tfds.SpeechCommandsKs),
    "ucf101": DatasetSpec(**_VIDEO_CLS, **_REAL,
                          labels=signal_real_tfds.UCF101_LABELS,
                          manual=signal_real_tfds.Ucf101),
    "cifar100": DatasetSpec(**_IMAGE_CLS, **_REAL,
                            labels=unimodal_real_tfds.CIFAR100_LABELS,
                            manual=unimodal_real_tfds.Cifar100),
    "imdb": DatasetSpec(**_TEXT_CLS, **_REAL,
                        labels=unimodal_tasks.SENTIMENTS,
                        manual=unimodal_real_tfds.Imdb,
                        ood="rotten_tomatoes"),
    "ddi2013": DatasetSpec(**_TEXT_CLS, **_REAL,
                           labels=unimodal_tasks.RELATIONS,
                           manual=unimodal_real_tfds.Ddi2013),
}
# Out-of-distribution test sets (`DatasetSpec.ood`): a builder with a
# `test` split in its dataset's record layout, read from data.manual_dir.
OOD_SETS = {"rotten_tomatoes": unimodal_real_tfds.RottenTomatoes}


def data_dir(d) -> str:
  return os.path.expanduser(d.data_dir or "~/tensorflow_datasets")


def _manual_dir(d) -> str:
  return os.path.expanduser(d.manual_dir) or os.path.join(
      data_dir(d), "downloads", "manual")


def check_available(d) -> None:
  """Raises `DataError` with instructions if a manual dataset's files are
  neither prepared nor downloaded; cheap, for before any compute."""
  spec = DATASETS[d.name]
  for builder_cls in (spec.manual, OOD_SETS.get(spec.ood)):
    if builder_cls:
      manual_tfds.check_available(builder_cls, data_dir(d), _manual_dir(d))


def prepare(d):
  """The TFDS builder of `config.data`, built on first use. A data_dir that
  cannot hold it (a file, a read-only or full disk) is a `DataError` naming
  `data.data_dir`."""
  root = data_dir(d)
  if os.path.exists(root) and not os.path.isdir(root):
    raise errors.ConfigError(f"data.data_dir {root} is a file, not a "
                             "directory; pass another --config.data.data_dir")
  try:
    return _prepare(d)
  except OSError as e:
    where = e.filename or root
    raise errors.DataError(
        f"cannot prepare dataset {d.name} in data.data_dir {root} ({where}: "
        f"{e.strerror or e}); pass a --config.data.data_dir this user can "
        "write, with free space (the dataset is built there once)") from None


def _prepare(d):
  spec = DATASETS[d.name]
  if spec.build is not None:
    return spec.build(d, data_dir(d))
  return manual_tfds.prepare(spec.manual, data_dir(d), _manual_dir(d))


def prepare_ood(d):
  """The builder of `config.data`'s out-of-distribution test set (None
  when the dataset has none), built on first use."""
  ood = DATASETS[d.name].ood
  if ood is None:
    return None
  return manual_tfds.prepare(OOD_SETS[ood], data_dir(d), _manual_dir(d))


def texts(builder, spec: DatasetSpec, split: str = "train") -> Iterator[str]:
  """Every text of a split, its images left undecoded (reading them is
  most of a record's cost), for training a tokenizer; none for a dataset
  without text."""
  if not spec.has_text:
    return
  source = builder.as_data_source(
      split, decoders={k: tfds.decode.SkipDecoding()
                       for k in spec.image_keys})
  for i in range(len(source)):
    yield from spec.texts_of(source[i])


def index_splits(builder, spec: DatasetSpec):
  """The train and test splits, every record read once (so a truncated or
  corrupt prepared file stops here, before any compute, naming it)."""
  try:
    sources = builder.as_data_source()
    return tuple(pipeline.index_split(sources[s], desc=f"index {s}",
                                      id_key=spec.id_key)
                 for s in ("train", "test"))
  except RuntimeError as e:  # array_record's reader raises RuntimeError
    text = str(e)
    if not any(w in text for w in ("ArrayRecord", "Riegeli", "records")):
      raise
    raise errors.DataError(
        f"the prepared dataset in {builder.data_dir} is truncated or corrupt "
        f"({text.splitlines()[0][:160]}); delete that directory to build it "
        "again (from the generator, or from your downloaded files)"
    ) from None

"""What a dataset is to the run: `DatasetSpec`, the record each dataset
module declares beside its builder, and the shared parts several of them
use. The registry (`data/datasets.py`) collects them by name."""

from __future__ import annotations

import dataclasses
from typing import Callable

from mmul_jax import errors
from mmul_jax.data.core import pipeline


@dataclasses.dataclass(frozen=True)
class GridRecipe:
  """How MU-Bench's grid (`recipes.mubench_task`) sets a run up on this
  dataset.

  train_steps: an embedded dataset's training steps (enough for the
    original to fit its memorisable examples); its unlearning budget stays
    the config's, equal across tasks.
  recipe: a real dataset's recipe, by name in `recipes.GRID_RECIPES`
    ("clip_classification", "mubench_unimodal", "scratch_signal").
  settings: that recipe's keyword arguments (MU-Bench's per-dataset
    rows, epochs, batch, learning rate, where it has them).
  overrides: flattened config keys the recipe leaves as they are but this
    dataset needs (a sample rate, a frame count).
  stands_in_for: the real dataset an embedded one stands in for
    (`data.source=real` of the grid picks it).
  """

  train_steps: int = 0
  recipe: str = ""
  settings: dict = dataclasses.field(default_factory=dict)
  overrides: dict = dataclasses.field(default_factory=dict)
  stands_in_for: str | None = None


@dataclasses.dataclass(frozen=True)
class DatasetSpec(pipeline.RecordLayout):
  """Where a dataset's records keep their parts (the `RecordLayout` fields:
  image keys, two for NLVR2; unit id; texts; class names, empty for
  retrieval) and what the run makes of them.

  task: the task kind (`mmul_jax.tasks`): "retrieval", "classification",
    "graph_text", "unimodal_classification" or "generation".
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
  ood: the name of the out-of-distribution test set evaluated beside
    test, where MU-Bench has one (IMDB: Rotten Tomatoes).
  ood_builder: its builder, with a `test` split in this dataset's record
    layout, read from data.manual_dir.
  words: the embedded tokenizer's vocabulary (None: the shapes captions').
  build: `build(data_config, data_dir) -> builder` of a generated dataset
    (None: the `manual` builder over the downloaded files).
  check: `check(config)` raising `ConfigError` for data settings this
    dataset cannot build, or None.
  grid: its cell of MU-Bench's grid (`GridRecipe`), or None.
  utility_test: a generation dataset whose test split is knowledge the
    model should keep (TOFU's real authors and world facts): TOFU's model
    utility reads it beside Dr.
  judge: a text-to-image dataset's `judge(generated, real) -> (N,)`: how
    much of each unit's own image (uint8 `(N, S, S, 3)`, `real`) an image
    generated from its caption reproduces, in [0, 1] (the shapes items'
    colour code: `shapes.decode_code`); None: no such judge.
  judge_classifier: a text-to-image dataset's judge classifier: the
    classification dataset of the same images and classes, on which the
    project's image classifier trains once per run (`unlearn.judges`); it
    judges what class generated images show and its features give the
    Fréchet distance. None: no such judge.
  judge_encoder: likewise, the retrieval dataset of the same image-caption
    pairs, on which the project's dual encoder trains: its image features
    give the Fréchet distance and its image-text cosine the prompt
    faithfulness. None: no such judge.
  real_text: texts the embedded vocabulary does not cover, so a run
    without a tokenizer trains one on them, as on a downloaded
    (`manual`) dataset's: a user's own tables (`data.name = "files"`).
  """

  task: str = "retrieval"
  features: frozenset[str] = frozenset()
  manual: type | None = None
  example_rows: str | None = None
  task_words: tuple[str, ...] = ()
  words: Callable[[], list[str]] | None = None
  sample_rate: int = 0  # audio: the waveforms' rate in Hz
  ood: str | None = None
  ood_builder: type | None = None
  build: Callable | None = None
  check: Callable | None = None
  grid: GridRecipe | None = None
  real_text: bool = False
  utility_test: bool = False
  judge: Callable | None = None
  judge_classifier: str | None = None
  judge_encoder: str | None = None

  @property
  def num_classes(self) -> int:
    return len(self.labels)


# A text-to-image model reads images in [-1, 1]: (x / 255 - 0.5) / 0.5.
UNIT_RANGE = (0.5, 0.5, 0.5)


def check_text_to_image(config) -> None:
  """The shapes texts per unit, and images normalised to [-1, 1]."""
  check_texts_per_unit(config)
  d = config.data
  if tuple(d.mean) != UNIT_RANGE or tuple(d.std) != UNIT_RANGE:
    raise errors.ConfigError(
        f"data.mean = {tuple(d.mean)} and data.std = {tuple(d.std)}: a "
        "text-to-image model reads images in [-1, 1]; set both to "
        f"{UNIT_RANGE}")


def check_class_prompts(config) -> None:
  """A class-level text-to-image set: one prompt per image, images in
  [-1, 1], and its judges on (their classifier's accuracy is its score)."""
  if not config.eval.judges:
    raise errors.ConfigError(
        f"eval.judges = False: {config.data.name} is scored by its judge "
        "classifier's accuracy on generated images (no exact judge); "
        "keep eval.judges on")
  if config.data.captions_per_image != 1:
    raise errors.ConfigError(
        f"data.captions_per_image = {config.data.captions_per_image}: "
        f"{config.data.name} has one prompt per image (its class); set 1")
  check_text_to_image(config)


def check_texts_per_unit(config) -> None:
  """The embedded captioned datasets generate 1 to 4 texts per unit."""
  if not 0 < config.data.captions_per_image <= 4:
    raise errors.ConfigError("data.captions_per_image must be in 1..4 for "
                             "the embedded shapes and molecule datasets")


# Shared record layouts, as `DatasetSpec` keyword arguments.
RETRIEVAL = frozenset({"images", "captions"})
CLASSIFICATION = frozenset({"images", "sentences", "labels"})
MOLECULES = dict(task="graph_text", modality="graph", image_keys=(),
                 id_key="mol_id", text_key="descriptions",
                 features=frozenset({"graphs", "captions"}))
# One input and one label per record; "classes": class-skewed deletion.
UNIMODAL = dict(task="unimodal_classification", image_keys=(),
                id_key="example_id", features=frozenset({"labels", "classes"}))
IMAGE_CLS = dict(UNIMODAL, modality="image", inputs="image")
TEXT_CLS = dict(UNIMODAL, modality="text", inputs="text")
AUDIO_CLS = dict(UNIMODAL, modality="audio", inputs="audio")
VIDEO_CLS = dict(UNIMODAL, modality="video", inputs="video")
# The real ones' records keep their MU-Bench row (TFDS reorders records).
REAL = dict(example_rows="row")

"""Input types: one `Modality` object per kind of model input (image,
text, audio, video, molecule graph). Each owns how a record's input is
fitted to the run's fixed shapes, how a batch of them becomes what the
model reads, the all-zero example a model is initialised with, the tower
that reads it (`models.build(modality=name)`), the `config.data` keys it
reads and its config checks, so nothing else asks which modality it has.

A new input type is its class here, one line in `MODALITIES` and its tower
in `models` (`models.CLASSIFIERS` for a classifier).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

import jax
import numpy as np
import PIL.Image

from mmul_jax import errors
from mmul_jax.data.graphs import molecules
from mmul_jax.data.core import tokenizer as tokenizer_lib


@dataclasses.dataclass(frozen=True)
class InputShape:
  """The fixed shapes every example is brought to: images of
  `image_size`, molecules padded to `max_atoms` atoms and `max_edges`
  directed bonds, waveforms of `audio_samples`, clips of `num_frames`
  frames, prompts of `prompt_length` and answers of `answer_length`
  tokens (`config.data`), prompts written by `prompt_template` with
  `image_tokens` x `image_token` for an image (the model's placeholders,
  `Experiment.input_shape`; 0: the image goes elsewhere)."""

  image_size: int = 32
  max_atoms: int = 0
  max_edges: int = 0
  audio_samples: int = 4000
  num_frames: int = 8
  prompt_length: int = 32
  answer_length: int = 32
  prompt_template: str = "{question}"
  image_token: str = ""
  image_tokens: int = 0

  @classmethod
  def of(cls, data_config) -> InputShape:
    return cls(data_config.image_size, data_config.get("max_atoms", 0),
               data_config.get("max_edges", 0),
               data_config.get("audio_samples", 4000),
               data_config.get("num_frames", 8),
               data_config.get("prompt_length", 32),
               data_config.get("answer_length", 32),
               data_config.get("prompt_template", "{question}"))


def normalize_images(images: np.ndarray, mean: float | Sequence[float],
                     std: float | Sequence[float]) -> np.ndarray:
  """uint8 `(..., H, W, 3)` -> float32, `(x / 255 - mean) / std`."""
  x = images.astype(np.float32) / 255.0
  return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def fit_image(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 `(H, W, 3)` -> `(size, size, 3)`: the shorter side resized to
  `size` (bicubic), then the centre crop, as CLIP's preprocessing does.
  Images of the right size pass through untouched."""
  if image.shape[:2] == (size, size):
    return image
  h, w = image.shape[:2]
  scale = size / min(h, w)
  new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
  resized = np.asarray(PIL.Image.fromarray(image).resize(
      (new_w, new_h), PIL.Image.Resampling.BICUBIC))
  top, left = (new_h - size) // 2, (new_w - size) // 2
  return resized[top:top + size, left:left + size]


def fit_audio(wave: np.ndarray, num_samples: int) -> np.ndarray:
  """int16 `(N,)` -> `(num_samples,)`: the first `num_samples` samples,
  zero-padded at the end when shorter (Speech Commands' clips are at most
  1 s and some are shorter)."""
  wave = np.asarray(wave, np.int16).reshape(-1)[:num_samples]
  return np.pad(wave, (0, num_samples - len(wave)))


def fit_clip(frames: np.ndarray, num_frames: int, size: int) -> np.ndarray:
  """uint8 `(T, H, W, 3)` -> `(num_frames, size, size, 3)`: `num_frames`
  frames evenly spaced over the clip (repeated when it has fewer), each
  fitted like an image (`fit_image`)."""
  frames = np.asarray(frames)
  if len(frames) == 0:
    raise errors.DataError("a video clip without frames")
  index = np.linspace(0, len(frames) - 1, num_frames).round().astype(int)
  return np.stack([fit_image(frames[i], size) for i in index])


def decode_text(c) -> str:
  return c.decode("utf-8") if isinstance(c, bytes) else str(c)


def stack(items: Sequence[Any]):
  """Stacks equal-shaped examples (arrays or dicts of arrays)."""
  return jax.tree.map(lambda *xs: np.stack(xs), *items)


class Modality:
  """An input type. `fit` brings one record's input to the run's shapes
  (as the pipeline keeps it), `keep` turns fitted inputs into an
  evaluation set's arrays, `to_model` kept inputs into what the model
  reads, `batch` a training batch of fitted ones."""

  name: ClassVar[str]
  # The `config.data` keys this input's shapes read.
  data_keys: ClassVar[tuple[str, ...]] = ()
  # Whether the inputs are text (a tokenizer is trained on and reads them).
  is_text: ClassVar[bool] = False

  def fit(self, x, shape: InputShape, *, record: str = "?"):
    """One record's input brought to the run's fixed shapes.

    Args:
      x: the record's raw input: a uint8 image `(H, W, 3)`, a text (bytes
        or str), int16 samples `(N,)`, a clip `(T, H, W, 3)` or a
        molecule's graph fields.
      shape: the run's fixed shapes (`InputShape.of(config.data)`).
      record: the record's id, named in errors about it.

    Returns:
      The fitted input as the pipeline keeps it: an image
      `(image_size, image_size, 3)`, a string, `(audio_samples,)` samples,
      `(num_frames, image_size, image_size, 3)` frames or a dict of padded
      graph arrays.
    """
    raise NotImplementedError

  def keep(self, inputs: list, tok) -> Any:
    """Fitted inputs as one array set (token ids for text).

    Args:
      inputs: fitted inputs (`fit`), one per example.
      tok: the run's tokenizer; only text reads it.

    Returns:
      The inputs stacked along a new leading axis of size `len(inputs)`
      (a dict of such arrays for graphs; `(N, context_length)` int32 token
      ids for text).
    """
    del tok  # only text is tokenised
    return stack(inputs)

  def to_model(self, examples, mean, std):
    """Kept inputs (`keep`, or a batch of them) as the model reads them.

    Args:
      examples: kept inputs, with a leading batch axis.
      mean: the per-channel pixel mean (`config.data.mean`); only images
        and clips read it.
      std: the per-channel pixel std (`config.data.std`); likewise.

    Returns:
      The model's input: normalised float32 images or frames, float32
      waveforms in [-1, 1], or token ids and graphs unchanged; same
      leading axis.
    """
    del mean, std
    return examples

  def batch(self, inputs, tok, mean, std):
    """A training batch of fitted inputs as the model reads it.

    Args:
      inputs: the batch's fitted inputs (`fit`), stacked along a leading
        batch axis (a list of strings for text).
      tok: the run's tokenizer; only text reads it.
      mean: the per-channel pixel mean (`config.data.mean`).
      std: the per-channel pixel std (`config.data.std`).

    Returns:
      The batch as `to_model` gives it (token ids `(B, context_length)`
      for text).
    """
    del tok  # only text is tokenised
    return self.to_model(inputs, mean, std)

  def example_input(self, model_config, data_config) -> Any:
    """One all-zero model input, for initialising a model.

    Args:
      model_config: `config.model` (text reads its `context_length`).
      data_config: `config.data` (images, audio and clips read their
        shapes from it).

    Returns:
      An all-zero batch of one example, e.g. `(1, image_size, image_size,
      3)` float32 for images.
    """
    raise NotImplementedError

  def check(self, config, spec) -> None:
    """Config checks this input needs against the dataset `spec`.

    Args:
      config: the run config.
      spec: the dataset's `datasets.DatasetSpec` (audio reads its
        `sample_rate`).

    Raises:
      ConfigError: a setting this input cannot run with (the base class
        checks nothing).
    """


class Image(Modality):
  name = "image"

  def fit(self, x, shape, *, record="?"):
    return fit_image(x, shape.image_size)

  def to_model(self, examples, mean, std):
    return normalize_images(examples, mean, std)

  def example_input(self, model_config, data_config):
    s = data_config.image_size
    return np.zeros((1, s, s, 3), np.float32)


class Text(Modality):
  name = "text"
  is_text = True

  def fit(self, x, shape, *, record="?"):
    return decode_text(x)

  def keep(self, inputs, tok):
    return tokenizer_lib.encode(tok, inputs)

  def batch(self, inputs, tok, mean, std):
    return tokenizer_lib.encode(tok, [decode_text(t) for t in inputs])

  def example_input(self, model_config, data_config):
    return np.zeros((1, model_config.context_length), np.int32)


class Audio(Modality):
  """int16 waveforms, read as float in [-1, 1]."""

  name = "audio"
  data_keys = ("audio_samples",)

  def fit(self, x, shape, *, record="?"):
    return fit_audio(x, shape.audio_samples)

  def to_model(self, examples, mean, std):
    return np.asarray(examples, np.float32) / 32768.0

  def example_input(self, model_config, data_config):
    return np.zeros((1, data_config.audio_samples), np.float32)

  def check(self, config, spec):
    m, d = config.model, config.data
    if m.sample_rate != spec.sample_rate:
      raise errors.ConfigError(
          f"model.sample_rate ({m.sample_rate}) must be {d.name}'s rate, "
          f"{spec.sample_rate} Hz")
    if d.audio_samples < m.audio_window or m.audio_hop > m.audio_window:
      raise errors.ConfigError(
          "data.audio_samples must hold one model.audio_window and "
          "model.audio_hop must not exceed it")


class Video(Modality):
  """uint8 clips `(T, H, W, 3)`, normalised like images."""

  name = "video"
  data_keys = ("num_frames",)

  def fit(self, x, shape, *, record="?"):
    return fit_clip(x, shape.num_frames, shape.image_size)

  def to_model(self, examples, mean, std):
    return normalize_images(examples, mean, std)

  def example_input(self, model_config, data_config):
    s = data_config.image_size
    return np.zeros((1, data_config.num_frames, s, s, 3), np.float32)

  def check(self, config, spec):
    m, d = config.model, config.data
    if d.num_frames % m.tubelet_size:
      raise errors.ConfigError(
          f"data.num_frames ({d.num_frames}) must be a multiple of "
          f"model.tubelet_size ({m.tubelet_size})")


class Graph(Modality):
  """A molecule (`molecules.MoleculeGraph` record fields), padded to the
  run's atom and bond budgets."""

  name = "graph"
  data_keys = ("max_atoms", "max_edges")

  def fit(self, x, shape, *, record="?"):
    # Reshaped: a molecule without bonds reads back as empty (0,) rows.
    graph = molecules.MoleculeGraph(
        nodes=np.asarray(x["nodes"]).reshape(
            -1, len(molecules.NODE_FEATURES)),
        edges=np.asarray(x["edges"]).reshape(
            -1, len(molecules.EDGE_FEATURES)),
        senders=np.asarray(x["senders"]),
        receivers=np.asarray(x["receivers"]))
    return molecules.padded(graph, max_atoms=shape.max_atoms,
                            max_edges=shape.max_edges, record=record)


MODALITIES: dict[str, Modality] = {
    m.name: m for m in (Image(), Text(), Audio(), Video(), Graph())}
# The `config.data` keys some input types read and others never do: a run
# leaves out of its data fingerprint those its inputs do not read (so
# adding a key for one modality leaves other runs' checkpoints valid).
OPTIONAL_DATA_KEYS = ("max_atoms", "max_edges", "audio_samples",
                      "num_frames", "prompt_length", "answer_length",
                      "prompt_template")


def get(name: str) -> Modality:
  """The input type `name` (a dataset spec's `modality`).

  Args:
    name: a key of `MODALITIES` ("image", "text", "audio", "video",
      "graph").

  Returns:
    The `Modality` object (one shared instance per input type).

  Raises:
    ValueError: no input type of that name.
  """
  try:
    return MODALITIES[name]
  except KeyError:
    raise ValueError(f"unknown modality {name!r}; use one of "
                     f"{sorted(MODALITIES)}") from None

"""grain input pipelines over TFDS random-access data sources.

Two kinds of input:

* **training streams**: an endless, seeded, per-epoch reshuffled stream of
  `(image, one caption)` batches over a subset of units (D, Df or Dr); for
  classification tasks `(images, one sentence, its label)`. Each unit
  appears once per epoch with a text drawn at random, so a batch
  rarely holds two captions of one image (and the losses handle it by id when
  it does, at epoch boundaries). Batch `k` is a pure function of `(seed, k)`,
  which is what makes resuming at step k exact.
* **evaluation sets**: every `(unit, text)` pair of a subset, as arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import grain
import jax
import numpy as np
import tokenizers
from tqdm.auto import tqdm

from mmul_jax import errors
from mmul_jax.data.core import modalities
from mmul_jax.data.core import qa
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.data.core.modalities import InputShape
from mmul_jax.data.core.modalities import decode_text
from mmul_jax.data.core.modalities import stack


@dataclasses.dataclass(frozen=True)
class ImageTextSplit:
  """A TFDS data source plus the id -> record index map of its images."""

  source: Any  # tfds data source (random access)
  image_ids: np.ndarray  # (N,) image_id of record i

  def __len__(self) -> int:
    return len(self.image_ids)

  def records_for(self, ids: Sequence[int]) -> np.ndarray:
    """Record indices of the given image ids (raises on unknown ids)."""
    ids = np.asarray(ids, np.int64)
    order = np.argsort(self.image_ids)
    pos = np.searchsorted(self.image_ids, ids, sorter=order)
    pos = np.minimum(pos, len(order) - 1)
    found = self.image_ids[order[pos]] == ids
    if not np.all(found):
      missing = ids[~found][:5].tolist()
      raise errors.DataError(f"image ids not in this split: {missing}"
                     f"{' ...' if (~found).sum() > 5 else ''}")
    return order[pos]


def read_column(source, key: str, desc: str | None = None) -> np.ndarray:
  """One scalar feature of every record of `source`, in record order."""
  return np.asarray([source[i][key] for i in tqdm(
      range(len(source)), desc=desc or f"read {key}", leave=False,
      mininterval=2)])


def index_split(source, desc: str = "indexing",
                id_key: str = "image_id") -> ImageTextSplit:
  """Reads every record's unit id (`id_key`) once."""
  ids = read_column(source, id_key, desc).astype(np.int64)
  if len(np.unique(ids)) != len(ids):
    raise errors.DataError(f"{id_key} is not unique within the split")
  return ImageTextSplit(source, ids)


class _Subset(grain.sources.RandomAccessDataSource):
  """The records `indices` of `source`, in that order."""

  def __init__(self, source, indices: np.ndarray):
    self._source = source
    self._indices = np.asarray(indices)

  def __len__(self) -> int:
    return len(self._indices)

  def __getitem__(self, i):
    return self._source[int(self._indices[i])]


def take(tree, index):
  """Rows `index` of every array of `tree` (an image array or a graph
  batch)."""
  return jax.tree.map(lambda x: x[index], tree)


def num_rows(tree) -> int:
  return len(jax.tree.leaves(tree)[0])


@dataclasses.dataclass(frozen=True)
class RecordLayout:
  """Where a dataset's records keep their parts (`datasets.DatasetSpec` is
  one): retrieval records hold one `image` and `captions`; classification
  records hold `image_keys` images and `sentences` with `labels`; graph
  records (`modality="graph"`) hold a molecule's `nodes`, `edges`,
  `senders` and `receivers` (`molecules.MoleculeGraph`) in the image's
  place. Unimodal records (`inputs` set) hold one input of `modality`
  ("image", "text", "audio": int16 samples, "video": uint8 frames
  `(T, H, W, 3)`) under the key `inputs` and its class as `label`: an
  example is a record, and its batches are `{"input", "label",
  "image_id"}`."""

  image_keys: tuple[str, ...] = ("image",)
  id_key: str = "image_id"
  text_key: str = "captions"
  labels: tuple[str, ...] = ()
  modality: str = "image"  # or "graph"; unimodal: also text/audio/video
  inputs: str | None = None  # unimodal: the record key of the input
  # Generation: the record key of the answers to the `text_key` prompts.
  answer_key: str | None = None

  @property
  def unimodal(self) -> bool:
    return self.inputs is not None

  @property
  def generative(self) -> bool:
    """Question-answer records (`qa`): text in, text out."""
    return self.answer_key is not None

  @property
  def input_type(self) -> modalities.Modality:
    """The `Modality` of the unit's input (the image's place)."""
    return modalities.get(self.modality)

  @property
  def has_text(self) -> bool:
    """Whether the records hold text (a tokenizer reads it)."""
    return not self.unimodal or self.input_type.is_text

  def texts_of(self, record) -> list[str]:
    """The record's texts, the tokenizer's training data."""
    if not self.has_text:
      return []
    if self.unimodal:
      return [decode_text(record[self.inputs])]
    texts = [decode_text(t) for t in record[self.text_key]]
    if self.generative:
      texts += [decode_text(t) for t in record[self.answer_key]]
    return texts

  def images(self, record, shape: InputShape):
    """The record's image `(S, S, 3)` (`(K, S, S, 3)` with labels), or,
    for records without image keys (a molecule is the record itself), its
    input fitted from the whole record (`molecules.padded`)."""
    if not self.image_keys:
      return self.input_type.fit(record, shape,
                                 record=str(record[self.id_key]))
    images = [self.input_type.fit(record[k], shape)
              for k in self.image_keys]
    return np.stack(images) if self.labels else images[0]

  def unimodal_input(self, record, shape: InputShape):
    """A unimodal record's input as the pipeline keeps it, fitted to the
    run's shape: an image, int16 samples, a clip's frames, or a text
    string (tokenised when batched)."""
    return self.input_type.fit(record[self.inputs], shape)

  def model_input(self, examples, mean, std):
    """What the model reads: normalised float images and frames, float
    waveforms in [-1, 1], graphs and token ids as they are."""
    return self.input_type.to_model(examples, mean, std)


RETRIEVAL = RecordLayout()


def training_stream(split: ImageTextSplit, image_ids: Sequence[int], *,
                    tok: tokenizers.Tokenizer, batch_size: int, seed: int,
                    mean, std, shape: InputShape,
                    shard: tuple[int, int] = (0, 1),
                    layout: RecordLayout = RETRIEVAL,
                    question_types: tuple[str, ...] = ()
                    ) -> grain.MapDataset:
  """Endless `MapDataset` of batches; index k is the batch of step k.

  Batches are dicts with `image` float32 `(B, H, W, 3)`, `text` int32
  `(B, L)` and `image_id` int64 `(B,)` (the unit id). Classification
  layouts add `label` int32 `(B,)`, the label of the drawn sentence, and
  give `image` as `(B, K, H, W, 3)`. Unimodal layouts give `input` (what
  the classifier reads: normalised images or clips, float waveforms, token
  ids), `label` and
  `image_id`, one example per unit. With `shard=(i, n)` it holds only
  rows `[i * B/n, (i + 1) * B/n)` of each batch, so the n processes of a job
  together read exactly the one-process batches, each record once.
  """
  index, count = shard
  if batch_size % count or not 0 <= index < count:
    raise ValueError(f"shard {shard} does not split batches of {batch_size}")
  if len(image_ids) == 0:
    raise ValueError("cannot build a training stream over zero images")
  records = split.records_for(image_ids)
  if layout.generative:
    return qa.training_stream(
        _Subset(split.source, records),
        encoder=qa_encoder(tok, shape),
        batch_size=batch_size, seed=seed, shard=shard, layout=layout,
        shape=shape, prepare=lambda x: layout.model_input(x, mean, std),
        question_types=question_types)

  def pick(record, rng: np.random.Generator):
    if layout.unimodal:
      return {"input": layout.unimodal_input(record, shape),
              "label": np.int32(record["label"]),
              "image_id": np.int64(record[layout.id_key])}
    texts = record[layout.text_key]
    k = int(rng.integers(len(texts)))
    out = {"image": layout.images(record, shape),
           "caption": decode_text(texts[k]),
           "image_id": np.int64(record[layout.id_key])}
    if layout.labels:
      out["label"] = np.int32(record["labels"][k])
    return out

  def collate(batch):
    if layout.unimodal:
      return {"input": layout.input_type.batch(batch["input"], tok, mean,
                                                std),
              "label": batch["label"], "image_id": batch["image_id"]}
    out = {
        "image": layout.model_input(batch["image"], mean, std),
        "text": tokenizer_lib.encode(tok, list(batch["caption"])),
        "image_id": batch["image_id"],
    }
    if layout.labels:
      out["label"] = batch["label"]
    return out

  ds = grain.MapDataset.source(_Subset(split.source, records))
  ds = ds.shuffle(seed=seed).repeat().random_map(pick, seed=seed + 1)
  ds = ds.batch(batch_size // count, drop_remainder=True)
  return (ds[index::count] if count > 1 else ds).map(collate)


def qa_encoder(tok: tokenizers.Tokenizer, shape: InputShape) -> qa.Encoder:
  """The question-answer `Encoder` of a run's shapes."""
  return qa.Encoder(tok, prompt_length=shape.prompt_length,
                    answer_length=shape.answer_length,
                    template=shape.prompt_template,
                    image_token=shape.image_token,
                    image_tokens=shape.image_tokens)


def iterate(stream: grain.MapDataset, start_step: int, *,
            num_threads: int = 2, prefetch: int = 4) -> grain.DatasetIterator:
  """An iterator over `stream` from batch `start_step`, read ahead in threads.

  Its position (`get_state`) counts batches from the start of the stream, so
  it can be saved in a checkpoint and restored into a fresh iterator.
  """
  it = iter(stream.to_iter_dataset(
      grain.ReadOptions(num_threads=num_threads,
                        prefetch_buffer_size=prefetch)))
  if start_step:
    it.set_state({**_position_state(it), "next_index": int(start_step)})
  return it


def position(it: grain.DatasetIterator) -> int:
  """The index of the batch `next(it)` returns."""
  return int(_position_state(it)["next_index"])


def _position_state(it) -> dict:
  state = it.get_state()
  if not isinstance(state, dict) or "next_index" not in state:
    raise RuntimeError(f"unexpected grain iterator state {state!r}; this "
                       "grain version is not supported (see pyproject.toml)")
  return state


@dataclasses.dataclass(frozen=True)
class PairSet:
  """Every (unit, text) pair of a set of units, for evaluation; for a
  unimodal layout every example (`text` None, one example per unit)."""

  # (N, H, W, 3) uint8; (N, K, H, W, 3) with labels; padded graphs;
  # unimodal: the inputs as the pipeline keeps them, token ids for text
  images: Any
  image_ids: np.ndarray  # (N,) unit ids
  text: np.ndarray | None  # (M, L) int32 token ids
  caption_owner: np.ndarray  # (M,) index into images of each text
  labels: np.ndarray | None = None  # (M,) classification labels


def load_pairs(split: ImageTextSplit, image_ids: Sequence[int], *,
               tok: tokenizers.Tokenizer, shape: InputShape,
               desc: str = "loading",
               layout: RecordLayout = RETRIEVAL) -> PairSet | qa.QaSet:
  if layout.generative:
    return qa.load(split, image_ids, layout=layout, desc=desc, shape=shape,
                   encoder=qa_encoder(tok, shape))
  records = split.records_for(image_ids)
  if layout.unimodal:
    return _load_examples(split, records, tok=tok, shape=shape, desc=desc,
                          layout=layout)
  images, ids, captions, owner, labels = [], [], [], [], []
  for n, r in enumerate(tqdm(records, desc=desc, leave=False, mininterval=2)):
    rec = split.source[int(r)]
    images.append(layout.images(rec, shape))
    ids.append(rec[layout.id_key])
    for c in rec[layout.text_key]:
      captions.append(decode_text(c))
      owner.append(n)
    if layout.labels:
      labels.extend(int(x) for x in rec["labels"])
  return PairSet(stack(images), np.asarray(ids, np.int64),
                 tokenizer_lib.encode(tok, captions),
                 np.asarray(owner, np.int64),
                 np.asarray(labels, np.int32) if layout.labels else None)


def _load_examples(split: ImageTextSplit, records, *, tok, shape, desc,
                   layout: RecordLayout) -> PairSet:
  inputs, ids, labels = [], [], []
  for r in tqdm(records, desc=desc, leave=False, mininterval=2):
    rec = split.source[int(r)]
    inputs.append(layout.unimodal_input(rec, shape))
    ids.append(rec[layout.id_key])
    labels.append(int(rec["label"]))
  return PairSet(layout.input_type.keep(inputs, tok), np.asarray(ids, np.int64), None,
                 np.arange(len(ids), dtype=np.int64),
                 np.asarray(labels, np.int32))

"""grain input pipelines over TFDS random-access data sources.

Two kinds of input:

* **training streams**: an endless, seeded, per-epoch reshuffled stream of
  `(image, one caption)` batches over a subset of images (D, Df or Dr). Each
  image appears once per epoch with a caption drawn at random, so a batch
  rarely holds two captions of one image (and the losses handle it by id when
  it does, at epoch boundaries). Batch `k` is a pure function of `(seed, k)`,
  which is what makes resuming at step k exact.
* **evaluation sets**: every `(image, caption)` pair of a subset, as arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import grain
import numpy as np
import PIL.Image
import tokenizers
from tqdm.auto import tqdm

from mmul_jax import errors
from mmul_jax.data import tokenizer as tokenizer_lib


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


def index_split(source, desc: str = "indexing") -> ImageTextSplit:
  """Reads every record's `image_id` once."""
  ids = read_column(source, "image_id", desc).astype(np.int64)
  if len(np.unique(ids)) != len(ids):
    raise errors.DataError("image_id is not unique within the split")
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


def _decode_caption(c) -> str:
  return c.decode("utf-8") if isinstance(c, bytes) else str(c)


def training_stream(split: ImageTextSplit, image_ids: Sequence[int], *,
                    tok: tokenizers.Tokenizer, batch_size: int, seed: int,
                    mean, std, image_size: int,
                    shard: tuple[int, int] = (0, 1)) -> grain.MapDataset:
  """Endless `MapDataset` of batches; index k is the batch of step k.

  Batches are dicts with `image` float32 `(B, H, W, 3)`, `text` int32
  `(B, L)` and `image_id` int64 `(B,)`. With `shard=(i, n)` it holds only
  rows `[i * B/n, (i + 1) * B/n)` of each batch, so the n processes of a job
  together read exactly the one-process batches, each record once.
  """
  index, count = shard
  if batch_size % count or not 0 <= index < count:
    raise ValueError(f"shard {shard} does not split batches of {batch_size}")
  if len(image_ids) == 0:
    raise ValueError("cannot build a training stream over zero images")
  records = split.records_for(image_ids)

  def pick(record, rng: np.random.Generator):
    captions = record["captions"]
    caption = _decode_caption(captions[int(rng.integers(len(captions)))])
    return {"image": fit_image(record["image"], image_size),
            "caption": caption,
            "image_id": np.int64(record["image_id"])}

  def collate(batch):
    return {
        "image": normalize_images(batch["image"], mean, std),
        "text": tokenizer_lib.encode(tok, list(batch["caption"])),
        "image_id": batch["image_id"],
    }

  ds = grain.MapDataset.source(_Subset(split.source, records))
  ds = ds.shuffle(seed=seed).repeat().random_map(pick, seed=seed + 1)
  ds = ds.batch(batch_size // count, drop_remainder=True)
  return (ds[index::count] if count > 1 else ds).map(collate)


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
  """Every (image, caption) pair of a set of images, for evaluation."""

  images: np.ndarray  # (N, H, W, 3) uint8
  image_ids: np.ndarray  # (N,)
  text: np.ndarray  # (M, L) int32 token ids
  caption_owner: np.ndarray  # (M,) index into images of each caption


def load_pairs(split: ImageTextSplit, image_ids: Sequence[int], *,
               tok: tokenizers.Tokenizer, image_size: int,
               desc: str = "loading") -> PairSet:
  records = split.records_for(image_ids)
  images, ids, captions, owner = [], [], [], []
  for n, r in enumerate(tqdm(records, desc=desc, leave=False, mininterval=2)):
    rec = split.source[int(r)]
    images.append(fit_image(rec["image"], image_size))
    ids.append(rec["image_id"])
    for c in rec["captions"]:
      captions.append(_decode_caption(c))
      owner.append(n)
  return PairSet(np.stack(images), np.asarray(ids, np.int64),
                 tokenizer_lib.encode(tok, captions),
                 np.asarray(owner, np.int64))

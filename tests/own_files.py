"""Tiny datasets of the user's own kind, written by the tests: a folder of
files and a manifest per split (JSONL, CSV, Parquet, or a directory laid
out as `datasets`' save_to_disk writes it), for `data.name = "files"`.

Each unit is learnable from its input (its colour, tone or word says its
class / caption), so the tiny model's runs are not degenerate."""

from __future__ import annotations

import csv
import io
import json
import os
import wave

import numpy as np
import PIL.Image

UCF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                   "ucf101", "UCF-101")
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 60, 220)}
CLASSES = tuple(COLOURS)


def _image(colour: str, seed: int, size: int = 24) -> PIL.Image.Image:
  rng = np.random.default_rng(seed)
  base = np.array(COLOURS[colour], np.float32)
  pixels = base + rng.normal(0, 20, (size, size, 3))
  return PIL.Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def png_bytes(colour: str, seed: int) -> bytes:
  buf = io.BytesIO()
  _image(colour, seed).save(buf, format="PNG")
  return buf.getvalue()


def wav_bytes(k: int, seed: int, rate: int = 8000, n: int = 2000) -> bytes:
  """A tone whose pitch says class k."""
  t = np.arange(n) / rate
  rng = np.random.default_rng(seed)
  x = 0.5 * np.sin(2 * np.pi * (300 + 400 * k) * t) + rng.normal(0, 0.05, n)
  buf = io.BytesIO()
  with wave.open(buf, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes((np.clip(x, -1, 1) * 32000).astype("<i2").tobytes())
  return buf.getvalue()


def rows(kind: str, split: str, n: int, folder: str,
         binary: bool = True) -> list[dict]:
  """`n` units' rows of a task kind; media files written under `folder`
  (paths relative to it), or kept in the table as bytes (`binary`, for
  Parquet and Arrow)."""
  out = []
  offset = 0 if split == "train" else 1000
  for i in range(n):
    seed = offset + i
    colour = CLASSES[i % len(CLASSES)]
    if kind in ("retrieval", "image_text_classification"):
      name = f"images/{split}_{i:03d}.png"
      os.makedirs(os.path.join(folder, "images"), exist_ok=True)
      _image(colour, seed).save(os.path.join(folder, name))
      for j in range(2):
        row = {"image": name, "unit": f"{split}-{i}"}
        if kind == "retrieval":
          row["caption"] = f"a {colour} square number {i} view {j}"
        else:
          row["sentence"] = f"the picture is {CLASSES[(i + j) % 3]}"
          row["label"] = "yes" if j == 0 else "no"
        out.append(row)
    elif kind == "text_classification":
      out.append({"text": f"this review says {colour} item {i}",
                  "label": colour, "id": f"{split}-{i}"})
    elif kind == "image_classification":
      image = png_bytes(colour, seed)
      if not binary:
        image = f"{split}_{i:03d}.png"
        with open(os.path.join(folder, image), "wb") as f:
          f.write(png_bytes(colour, seed))
      out.append({"image": image, "label": i % 3, "id": f"{split}-{i}"})
    elif kind == "audio_classification":
      out.append({"audio": {"bytes": wav_bytes(i % 3, seed), "path": None},
                  "label": i % 3})
    elif kind == "video_classification":  # the fake UCF101 clips
      clips = sorted(os.path.relpath(os.path.join(r, f), UCF) for r, _, fs
                     in os.walk(UCF) for f in fs)
      clip = clips[(i + (split == "test")) % len(clips)]
      out.append({"video": os.path.join(UCF, clip),
                  "label": clip.split("/")[0]})
    elif kind == "molecule_text":
      smiles = ["CCO", "CC(=O)O", "c1ccccc1", "CCN", "CCCC", "C1CCCCC1"]
      s = smiles[i % len(smiles)] + "C" * (i // len(smiles))
      out.append({"smiles": s, "description": f"molecule {i} with "
                  f"{len(s)} symbols"})
    else:
      raise ValueError(kind)
  return out


def write_jsonl(path: str, table: list[dict]) -> str:
  with open(path, "w", encoding="utf-8") as f:
    for row in table:
      f.write(json.dumps(row) + "\n")
  return path


def write_csv(path: str, table: list[dict]) -> str:
  with open(path, "w", encoding="utf-8", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
  return path


def write_parquet(path: str, table: list[dict]) -> str:
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  pq.write_table(pa.Table.from_pylist(table), path)
  return path


def write_saved_dataset(directory: str, table: list[dict]) -> str:
  """The layout `datasets.Dataset.save_to_disk` writes: Arrow IPC stream
  files listed in state.json, beside dataset_info.json."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  os.makedirs(directory, exist_ok=True)
  arrow = pa.Table.from_pylist(table)
  name = "data-00000-of-00001.arrow"
  with pa.OSFile(os.path.join(directory, name), "wb") as sink:
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
      writer.write_table(arrow)
  with open(os.path.join(directory, "state.json"), "w") as f:
    json.dump({"_data_files": [{"filename": name}], "_fingerprint": "0",
               "_format_columns": None, "_format_kwargs": {},
               "_format_type": None, "_output_all_columns": False,
               "_split": None}, f)
  with open(os.path.join(directory, "dataset_info.json"), "w") as f:
    json.dump({"features": {}}, f)
  return directory


WRITERS = {"jsonl": (write_jsonl, ".jsonl"), "csv": (write_csv, ".csv"),
           "parquet": (write_parquet, ".parquet"),
           "saved": (write_saved_dataset, "")}


def make(folder: str, kind: str, fmt: str, n_train: int = 24,
         n_test: int = 9) -> dict:
  """Writes both splits; the `data.files` keys that read them."""
  write, ext = WRITERS[fmt]
  os.makedirs(folder, exist_ok=True)
  paths = {}
  for split, n in (("train", n_train), ("test", n_test)):
    paths[split] = write(os.path.join(folder, f"{split}{ext}"),
                         rows(kind, split, n, folder,
                              binary=fmt in ("parquet", "saved")))
  return {"data.name": "files", "data.files.task": kind,
          "data.files.train": paths["train"],
          "data.files.test": paths["test"]}

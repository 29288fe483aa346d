"""What a prepared dataset holds (`scripts/prepare.py`): units, examples,
classes and their counts, text lengths per split, every bad row of a
user's tables, and a PNG of a few training units."""

from __future__ import annotations

import collections
import os

import numpy as np
from tqdm.auto import tqdm

from mmul_jax.data import datasets
from mmul_jax.data.core import modalities
from mmul_jax.data.core.spec import DatasetSpec
from mmul_jax.data.files import files_tfds
from mmul_jax.data.files import units


def problems(d) -> list[str]:
  """Every bad row of `data.files`' tables (one line each, row order);
  none for the other datasets, whose builders check their own files."""
  if d.name != datasets.FILES:
    return []
  checked = files_tfds.check_tables(units.settings_of(d)).values()
  return [line for _, c in checked for line in c.problems]


def _labels(record, spec: DatasetSpec) -> list[int]:
  if not spec.labels:
    return []
  if spec.unimodal:
    return [int(record["label"])]
  return [int(x) for x in record["labels"]]


def summarize(builder, spec: DatasetSpec) -> dict:
  """Per split: units, texts, classes (name -> examples) and text lengths
  in words (min, mean, max)."""
  out = {}
  sources = builder.as_data_source()
  for split in sorted(sources):
    source = sources[split]
    counts, lengths, texts = collections.Counter(), [], 0
    for i in tqdm(range(len(source)), desc=f"summarise {split}",
                  leave=False, mininterval=2):
      record = source[i]
      counts.update(_labels(record, spec))
      for t in spec.texts_of(record):
        texts += 1
        lengths.append(len(t.split()))
    split_summary = {"units": len(source)}
    if texts and not (spec.unimodal and spec.input_type.is_text):
      split_summary["texts"] = texts
    if lengths:
      split_summary["words"] = {"min": int(min(lengths)),
                                "mean": round(float(np.mean(lengths)), 1),
                                "max": int(max(lengths))}
    if spec.labels:
      split_summary["classes"] = {spec.labels[k]: counts.get(k, 0)
                                  for k in range(len(spec.labels))}
    out[split] = split_summary
  return out


def format_summary(name: str, summary: dict) -> str:
  lines = [f"dataset {name}"]
  for split, s in summary.items():
    parts = [f"{s['units']} units"]
    if "texts" in s:
      parts.append(f"{s['texts']} texts")
    if "words" in s:
      w = s["words"]
      parts.append(f"words per text {w['min']}-{w['max']} (mean "
                   f"{w['mean']:g})")
    lines.append(f"  {split}: " + ", ".join(parts))
    if "classes" in s:
      shown = ", ".join(f"{k} {v}" for k, v in s["classes"].items())
      lines.append(f"    classes: {shown}")
  return "\n".join(lines)


def _caption(record, spec: DatasetSpec) -> str:
  texts = spec.texts_of(record)
  words = []
  if spec.labels:
    words.append("/".join(spec.labels[k] for k in _labels(record, spec)))
  if texts and not spec.unimodal:
    words.append(texts[0])
  if spec.unimodal and spec.input_type.is_text:
    words.append(texts[0])
  if spec.modality == "graph":
    words.insert(0, modalities.decode_text(record["smiles"]))
  return "\n".join(w[:60] for w in words)


def sample_figure(builder, spec: DatasetSpec, path: str, n: int = 8) -> str:
  """A PNG of the first `n` training units: the image (a clip's first
  frame, a waveform) or the text, with its label(s) and first text."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  source = builder.as_data_source("train")
  n = min(n, len(source))
  cols = min(n, 4)
  rows = -(-n // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows),
                           squeeze=False)
  for ax in axes.ravel():
    ax.axis("off")
  for i, ax in zip(range(n), axes.ravel()):
    record = source[i]
    kind = spec.modality
    x = (record[spec.inputs] if spec.unimodal else
         record[spec.image_keys[0]] if spec.image_keys else None)
    if kind == "image" and x is not None:
      x = np.asarray(x)
      # A unit with several images (a person's portraits): the first.
      ax.imshow(x[0] if x.ndim == 4 else x)
    elif kind == "video":
      ax.imshow(np.asarray(x)[0])
    elif kind == "audio":
      ax.axis("on")
      ax.plot(np.asarray(x, np.float32) / 32768.0, linewidth=0.5)
      ax.set_yticks([])
    ax.set_title(_caption(record, spec), fontsize=7, wrap=True)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=80)
  plt.close(fig)
  return path

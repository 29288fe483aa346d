"""`data.name = "files"`: the user's own files as a TFDS dataset, built once
into `data.data_dir` like every other dataset and read the same way.

`data.files` names a train and a test table (`tables`: JSONL, CSV,
Parquet, a save_to_disk directory), the task kind and the columns
(`units.Settings`). Building checks every row first (`units.check`:
inputs decoded, one line per problem) and writes nothing while any is
refused; then each unit becomes a record in the layout of the task's own
datasets, plus `key` (the id as the user wrote it, which
`deletion.ids_file` names) and the unit's row(s) in the table (what a
MU-Bench index file counts). Images are stored decoded to RGB as PNG,
audio as int16 samples at `data.files.sample_rate`, clips as
`units.VIDEO_FRAMES` JPEG frames. The build is named by a digest of the
settings and the tables' sizes and modification times: editing a table
builds again; a media file changed in place under the same name does not
(delete the build's folder, `<data_dir>/own_files/<name>`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds
from tqdm.auto import tqdm

from mmul_jax import errors
from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.files import tables
from mmul_jax.data.files import units

NAME = "files"  # the `data.name` that selects this source
TEST_ID_OFFSET = 10_000_000  # test unit ids start here, after every train id


@dataclasses.dataclass
class FilesConfig(tfds.core.BuilderConfig):
  settings: str = "{}"  # `units.Settings` as JSON


def _stamp(path: str) -> list:
  """Sizes and modification times of a table's files (every file of a
  folder), so an edited table is a new build."""
  if os.path.isdir(path):
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(path)
                   for f in fs)
  else:
    files = [path]
  return [(os.path.relpath(f, path) if f != path else "", os.path.getsize(f),
           int(os.path.getmtime(f))) for f in files]


def make_config(settings: units.Settings) -> FilesConfig:
  text = json.dumps(dataclasses.asdict(settings), sort_keys=True)
  stamp = json.dumps([_stamp(settings.train), _stamp(settings.test)])
  digest = hashlib.sha256((text + stamp).encode()).hexdigest()[:16]
  return FilesConfig(name=f"{settings.task}_{digest}", settings=text)


class OwnFiles(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """One record per deletion unit of the user's tables (module doc)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}

  @property
  def settings(self) -> units.Settings:
    s = json.loads(self.builder_config.settings)
    return units.Settings(**{**s, "classes": tuple(s["classes"])})

  def _info(self) -> tfds.core.DatasetInfo:
    s = self.settings
    text = tfds.features.Text()
    texts = tfds.features.Sequence(text)
    int64 = tfds.features.Scalar(dtype=np.int64)
    rows = tfds.features.Sequence(int64)
    image = tfds.features.Image(shape=(None, None, 3), encoding_format="png")
    classes = tfds.features.ClassLabel(names=list(s.classes or ("-",)))
    kind = s.kind.input
    if s.task == "retrieval":
      features = dict(image=image, image_id=int64, captions=texts, rows=rows)
    elif s.task == "image_text_classification":
      features = dict(image=image, unit_id=int64, sentences=texts, rows=rows,
                      labels=tfds.features.Sequence(classes))
    elif s.task == "molecule_text":
      pairs = lambda w: tfds.features.Tensor(shape=(None, w), dtype=np.int32)
      ids = tfds.features.Tensor(shape=(None,), dtype=np.int32)
      from mmul_jax.data.graphs import molecules  # pylint: disable=g-import-not-at-top
      features = dict(mol_id=int64, smiles=text, descriptions=texts,
                      nodes=pairs(len(molecules.NODE_FEATURES)),
                      edges=pairs(len(molecules.EDGE_FEATURES)),
                      senders=ids, receivers=ids, rows=rows)
    else:
      inputs = {"image": image, "text": text,
                "audio": tfds.features.Tensor(shape=(None,), dtype=np.int16),
                "video": tfds.features.Sequence(tfds.features.Image(
                    shape=(None, None, 3), encoding_format="jpeg"))}
      features = {kind: inputs[kind], "label": classes,
                  "example_id": int64, "row": int64}
    features["key"] = text
    return self.dataset_info_from_configs(
        description=__doc__, features=tfds.features.FeaturesDict(features),
        supervised_keys=None)

  def _split_generators(self, dl_manager):
    del dl_manager  # the tables are read where they are
    s = self.settings
    kept = {split: (table, units.refuse_or_skip(checked, s, table.path,
                                                log=logging.warning))
            for split, (table, checked) in check_tables(s).items()}
    # Every row of both splits is checked before anything is written.
    return {split: self._generate_examples(split, table, found)
            for split, (table, found) in kept.items()}

  def _generate_examples(self, split: str, table: tables.Table, found):
    s = self.settings
    root = s.root_of(table.path)
    offset = TEST_ID_OFFSET if split == "test" else 0
    for i, unit in enumerate(found):
      uid = offset + i
      x = units.decode(s, unit.source, root)
      yield uid, {**_record(s, uid, unit, x), "key": unit.key}


def check_tables(settings: units.Settings) -> dict:
  """`{split: (table, units.Checked)}` of the train and test tables, every
  row checked, with a progress bar."""
  out = {}
  for split, path in (("train", settings.train), ("test", settings.test)):
    table = tables.read(path)
    with tqdm(total=len(table.rows), desc=f"check {split} rows",
              leave=False, mininterval=2) as bar:
      out[split] = (table, units.check(table, settings, progress=bar))
  return out


def _png(image: np.ndarray) -> io.BytesIO:
  """An RGB image as PNG bytes (TFDS would need TensorFlow to encode it)."""
  buf = io.BytesIO()
  PIL.Image.fromarray(image).save(buf, format="PNG")
  buf.seek(0)
  return buf


def _record(s: units.Settings, uid: int, unit: units.Unit, x) -> dict:
  if s.kind.input == "image":
    x = _png(x)
  if s.task == "retrieval":
    return dict(image=x, image_id=uid, captions=unit.texts, rows=unit.rows)
  if s.task == "image_text_classification":
    return dict(image=x, unit_id=uid, sentences=unit.texts, rows=unit.rows,
                labels=unit.labels)
  if s.task == "molecule_text":
    return dict(mol_id=uid, smiles=unit.source.strip(),
                descriptions=unit.texts, nodes=x.nodes, edges=x.edges,
                senders=x.senders, receivers=x.receivers, rows=unit.rows)
  if s.kind.input == "video":
    x = [io.BytesIO(f) for f in x]
  return {s.kind.input: x, "label": unit.labels[0], "example_id": uid,
          "row": unit.rows[0]}


def prepare(d, data_dir: str) -> OwnFiles:
  """Builds (once) and returns the builder of `data` (`DatasetSpec.build`)."""
  return generated.prepare_generated(
      OwnFiles, make_config(units.settings_of(d)), data_dir)


def check(config) -> None:
  """`data.files` settings this source cannot build, before any work."""
  f = config.data.files
  s = units.settings_of(config.data)
  for key in ("train", "test"):
    path = os.path.expanduser(f[key])
    if not path:
      raise errors.ConfigError(
          f"data.name = 'files' needs data.files.{key}: a JSONL, CSV or "
          "Parquet manifest, a folder of Parquet shards, or a save_to_disk "
          "directory (docs/own-data.md)")
    if not os.path.exists(path):
      raise errors.ConfigError(f"data.files.{key} = {path} does not exist")
  if s.kind.labelled and not s.classes:
    raise errors.ConfigError(
        f"data.files.task = {s.task!r} needs data.files.classes: the class "
        "names in label order, e.g. --config.data.files.classes=cat,dog "
        "(scripts/prepare.py lists the labels it finds)")
  if len(set(s.classes)) != len(s.classes):
    raise errors.ConfigError(f"data.files.classes repeats a name: "
                             f"{', '.join(s.classes)}")


def dataset_spec(d) -> spec.DatasetSpec:
  """The `DatasetSpec` of `data.files` (the task kind decides the record
  layout, as in the module doc)."""
  s = units.settings_of(d)
  common = dict(build=prepare, check=check, real_text=True)
  if s.task == "retrieval":
    return spec.DatasetSpec(features=spec.RETRIEVAL, example_rows="rows",
                            **common)
  if s.task == "image_text_classification":
    return spec.DatasetSpec(
        task="classification", features=spec.CLASSIFICATION,
        id_key="unit_id", text_key="sentences", labels=s.classes,
        example_rows="rows", **common)
  if s.task == "molecule_text":
    return spec.DatasetSpec(**spec.MOLECULES, example_rows="rows", **common)
  layout = {"image": spec.IMAGE_CLS, "text": spec.TEXT_CLS,
            "audio": spec.AUDIO_CLS, "video": spec.VIDEO_CLS}[s.kind.input]
  return spec.DatasetSpec(
      **layout, labels=s.classes, example_rows="row",
      sample_rate=s.sample_rate if s.kind.input == "audio" else 0, **common)

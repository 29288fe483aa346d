"""TFDS builders of molecule-text datasets: the embedded `molecule_text`
(generated with RDKit, `molecule_text.py`) and ChEBI-20 from the files a
user downloads (`manual_dir`). Both write array_record files with the same
features, read without TensorFlow:

* `mol_id` (int64, the deletion unit), `smiles`, `descriptions` (texts);
* the graph of `molecules.smiles_to_graph`: `nodes` int32 `(atoms, 8)`,
  `edges` int32 `(2 * bonds, 4)`, `senders`, `receivers` int32
  `(2 * bonds,)` (the feature columns are documented in `molecules.py`).

The pipeline pads each graph to `data.max_atoms` / `data.max_edges`.
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from mmul_jax import errors
from mmul_jax.data.core import generated
from mmul_jax.data.core import spec
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.graphs import molecule_text
from mmul_jax.data.graphs import molecules


def _features() -> tfds.features.FeaturesDict:
  int_rows = lambda width: tfds.features.Tensor(shape=(None, width),
                                                dtype=np.int32)
  ids = tfds.features.Tensor(shape=(None,), dtype=np.int32)
  return tfds.features.FeaturesDict({
      "mol_id": tfds.features.Scalar(dtype=np.int64),
      "smiles": tfds.features.Text(),
      "descriptions": tfds.features.Sequence(tfds.features.Text()),
      "nodes": int_rows(len(molecules.NODE_FEATURES)),
      "edges": int_rows(len(molecules.EDGE_FEATURES)),
      "senders": ids, "receivers": ids,
  })


def _example(mol_id: int, smiles: str, descriptions, record: str) -> dict:
  g = molecules.smiles_to_graph(smiles, record=record)
  return {"mol_id": mol_id, "smiles": smiles,
          "descriptions": list(descriptions), "nodes": g.nodes,
          "edges": g.edges, "senders": g.senders, "receivers": g.receivers}


@dataclasses.dataclass
class MoleculeTextConfig(tfds.core.BuilderConfig):
  num_train: int = 2000
  num_test: int = 500
  descriptions_per_molecule: int = 2
  seed: int = 0


def make_config(num_train: int, num_test: int, descriptions_per_molecule: int,
                seed: int) -> MoleculeTextConfig:
  """A builder config whose name encodes every generation parameter."""
  return MoleculeTextConfig(
      name=f"n{num_train}_t{num_test}_d{descriptions_per_molecule}_"
           f"seed{seed}",
      num_train=num_train, num_test=num_test,
      descriptions_per_molecule=descriptions_per_molecule, seed=seed)


class MoleculeText(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """The embedded molecule-text dataset (see `molecule_text`)."""

  VERSION = tfds.core.Version("1.2.0")
  RELEASE_NOTES = {"1.0.0": "First release.",
                   "1.1.0": "Coarser descriptions: a size word instead of "
                            "exact heavy-atom counts and weights.",
                   "1.2.0": "One substituent and the side chain; the "
                            "descriptions' groups leave out the chain's "
                            "atoms (the chain is per-item detail)."}
  BUILDER_CONFIGS = [make_config(2000, 500, 2, 0)]

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=molecule_text.__doc__, features=_features(),
        supervised_keys=None)

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    c = self.builder_config
    names = molecule_text.unique_names(c.seed, c.num_train + c.num_test)
    return {"train": self._generate_examples(0, c.num_train,
                                             names[:c.num_train]),
            "test": self._generate_examples(1, c.num_test,
                                            names[c.num_train:])}

  def _generate_examples(self, split_index: int, count: int, names):
    c = self.builder_config
    offset = 0 if split_index == 0 else c.num_train  # ids unique overall
    for i in range(count):
      item = molecule_text.make_item(
          c.seed, split_index, i,
          num_descriptions=c.descriptions_per_molecule, name=names[i])
      yield offset + i, _example(offset + i, item.smiles, item.descriptions,
                                 record=f"{item.name} ({offset + i})")


_CHEBI_INSTRUCTIONS = """\
Download ChEBI-20 (Edwards et al., 2021, as released with MolT5, Edwards et
al., 2022) into the manual directory (data.manual_dir):
  https://github.com/blender-nlp/MolT5/tree/main/ChEBI-20_data
  -> <manual_dir>/train.txt, <manual_dir>/validation.txt,
     <manual_dir>/test.txt
Each is a tab-separated file whose header row names the columns CID (the
PubChem id), SMILES and description.
"""
COLUMNS = ("cid", "smiles", "description")


class Chebi20(manual_tfds.SplitFiles, tfds.core.GeneratorBasedBuilder,
              skip_registration=True):
  """ChEBI-20 molecule descriptions: one record per molecule (its PubChem
  CID), its SMILES converted with RDKit, and its description."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _CHEBI_INSTRUCTIONS
  SPLIT_FILES = {"train": "train.txt", "validation": "validation.txt",
                 "test": "test.txt"}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=self.__doc__, features=_features(), supervised_keys=None)

  def _generate_examples(self, manual_dir: str, name: str):
    path = os.path.join(manual_dir, name)
    # Lines decoded one by one, so a byte that is not UTF-8 names its line.
    rows = csv.reader((t for _, t in manual_tfds.text_lines(path)),
                      delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [h.strip().lower() for h in next(rows, [])]
    if not set(COLUMNS) <= set(header):
      raise errors.DataError(
          f"{path}: the header row must name the columns CID, SMILES and "
          f"description (tab-separated), found {header}")
    cols = [header.index(c) for c in COLUMNS]
    for line, row in enumerate(rows, start=2):
      if not any(row):
        continue
      if len(row) < len(header):
        raise errors.DataError(
            f"{name}, line {line}: expected {len(header)} tab-separated "
            f"columns, got {len(row)}")
      cid, smiles, description = (row[c].strip() for c in cols)
      try:
        mol_id = int(cid)
      except ValueError:
        raise errors.DataError(f"{name}, line {line}: CID {cid!r} is not "
                               "an integer") from None
      yield mol_id, _example(mol_id, smiles, [description],
                             record=f"{name}, line {line}, CID {cid}")


def prepare_embedded(data_dir: str, **config_kwargs) -> MoleculeText:
  """Builds (once) and returns the embedded dataset's builder."""
  return generated.prepare_generated(
      MoleculeText, make_config(**config_kwargs), data_dir)


def _build(d, root):
  return prepare_embedded(
      root, num_train=d.num_train, num_test=d.num_test,
      descriptions_per_molecule=d.captions_per_image, seed=d.seed)


DATASETS = {
    "molecule_text": spec.DatasetSpec(
        **spec.MOLECULES, words=molecule_text.vocabulary, build=_build,
        check=spec.check_texts_per_unit),
    "chebi20": spec.DatasetSpec(**spec.MOLECULES, manual=Chebi20),
}

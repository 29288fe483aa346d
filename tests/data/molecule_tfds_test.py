"""The molecule-text builders: ChEBI-20 from fake copies of its files
(tests/fixtures/chebi20, made by make_fake_datasets.py) and the embedded
dataset."""

import os
import shutil

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.downloaded import manual_tfds
from mmul_jax.data.graphs import molecule_tfds
from mmul_jax.data.graphs import molecules

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")


def _rows(path):
  with open(path) as f:
    return [line.rstrip("\n").split("\t") for line in f][1:]


def test_chebi20_reads_back_every_molecule_with_its_graph(tmp_path):
  manual = os.path.join(FIXTURES, "chebi20")
  builder = manual_tfds.prepare(molecule_tfds.Chebi20, str(tmp_path), manual)
  sources = builder.as_data_source()
  for split, file in molecule_tfds.Chebi20.SPLIT_FILES.items():
    want = {int(cid): (smiles, text)
            for cid, smiles, text in _rows(os.path.join(manual, file))}
    got = {}
    for i in range(len(sources[split])):
      rec = sources[split][i]
      smiles = rec["smiles"].decode()
      got[int(rec["mol_id"])] = (smiles, rec["descriptions"][0].decode())
      g = molecules.smiles_to_graph(smiles)
      np.testing.assert_array_equal(rec["nodes"], g.nodes)
      np.testing.assert_array_equal(rec["edges"].reshape(-1, 4), g.edges)
      np.testing.assert_array_equal(rec["senders"], g.senders)
      np.testing.assert_array_equal(rec["receivers"], g.receivers)
    assert got == want
  for path in os.listdir(manual):
    assert os.path.getsize(os.path.join(manual, path)) < 10_000


def test_chebi20_missing_file_and_invalid_smiles(tmp_path):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, "chebi20"), manual)
  os.remove(manual / "validation.txt")
  with pytest.raises(errors.DataError,
                     match=r"validation\.txt(.|\n)*Download ChEBI-20"):
    manual_tfds.prepare(molecule_tfds.Chebi20, str(tmp_path / "data"),
                        str(manual))
  shutil.copy(os.path.join(FIXTURES, "chebi20", "validation.txt"),
              manual / "validation.txt")
  with open(manual / "train.txt", "a") as f:
    f.write("99\tC1CC(\tA broken ring.\n")
  line = len((manual / "train.txt").read_text().splitlines())
  with pytest.raises(errors.DataError,
                     match=rf"train\.txt, line {line}, CID 99: invalid "
                     "SMILES"):
    manual_tfds.prepare(molecule_tfds.Chebi20, str(tmp_path / "data"),
                        str(manual))


def test_chebi20_wrong_header_is_named(tmp_path):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, "chebi20"), manual)
  (manual / "test.txt").write_text("id\tsmi\ttext\n1\tC\tmethane\n")
  with pytest.raises(errors.DataError, match="header row must name"):
    manual_tfds.prepare(molecule_tfds.Chebi20, str(tmp_path / "data"),
                        str(manual))


def test_embedded_molecule_dataset_builds_and_reads_back(tmp_path):
  builder = molecule_tfds.prepare_embedded(
      str(tmp_path), num_train=12, num_test=4, descriptions_per_molecule=2,
      seed=3)
  sources = builder.as_data_source()
  ids = [int(sources["train"][i]["mol_id"]) for i in range(12)]
  assert sorted(ids) == list(range(12))
  assert sorted(int(sources["test"][i]["mol_id"]) for i in range(4)) == [
      12, 13, 14, 15]
  rec = sources["test"][0]
  assert len(rec["descriptions"]) == 2
  g = molecules.smiles_to_graph(rec["smiles"].decode())
  np.testing.assert_array_equal(rec["nodes"], g.nodes)


def test_chebi20_description_that_is_not_utf8_names_file_and_line(tmp_path):
  manual = tmp_path / "manual"
  shutil.copytree(os.path.join(FIXTURES, "chebi20"), manual)
  with open(manual / "train.txt", "ab") as f:
    f.write(b"98\tCCO\tAn alcohol \xe9thanol.\n")  # Latin-1, not UTF-8
  line = len((manual / "train.txt").read_bytes().splitlines())
  with pytest.raises(errors.DataError,
                     match=rf"train\.txt, line {line}: byte 0xe9 at column "
                     r"\d+ is not UTF-8"):
    manual_tfds.prepare(molecule_tfds.Chebi20, str(tmp_path / "data"),
                        str(manual))

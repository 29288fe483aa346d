"""SMILES to graphs (RDKit), padding budgets, and the embedded molecules."""

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.graphs import molecule_text
from mmul_jax.data.graphs import molecules


@pytest.mark.parametrize("smiles,atoms,bonds", [
    ("CCO", 3, 2),  # ethanol
    ("c1ccccc1", 6, 6),  # benzene
    ("CC(=O)Oc1ccccc1C(=O)O", 13, 13),  # aspirin
    ("Cn1cnc2c1c(=O)n(C)c(=O)n2C", 14, 15),  # caffeine
    ("[Na+].[Cl-]", 2, 0),  # two ions, no bond
])
def test_known_molecules_have_their_atom_and_bond_counts(smiles, atoms,
                                                         bonds):
  g = molecules.smiles_to_graph(smiles)
  assert g.num_atoms == atoms and g.num_bonds == bonds
  assert g.nodes.shape == (atoms, len(molecules.NODE_FEATURES))
  assert g.edges.shape == (2 * bonds, len(molecules.EDGE_FEATURES))
  # Each bond appears once per direction.
  pairs = set(zip(g.senders.tolist(), g.receivers.tolist()))
  assert all((r, s) in pairs for s, r in pairs)
  for col, (_, size) in enumerate(molecules.NODE_FEATURES):
    assert 0 <= g.nodes[:, col].min() and g.nodes[:, col].max() < size


def test_features_say_what_the_atoms_and_bonds_are():
  g = molecules.smiles_to_graph("c1ccccc1O")  # phenol
  element = g.nodes[:, 0]
  aromatic = g.nodes[:, 5]
  assert element.tolist() == [0] * 6 + [molecules.ELEMENTS.index("O")]
  assert aromatic.tolist() == [1] * 6 + [0]
  assert g.nodes[6, 3] == 1  # the hydroxyl's hydrogen
  bond_type = g.edges[:, 0]
  assert sorted(set(bond_type.tolist())) == [0, 3]  # single, aromatic
  charged = molecules.smiles_to_graph("C[N+](=O)[O-]")
  assert sorted(charged.nodes[:, 2].tolist()) == [1, 2, 2, 3]  # -1, 0, +1


@pytest.mark.parametrize("smiles", ["C1CC(", "Xy", "", "c1cccc1"])
def test_invalid_smiles_is_refused_naming_the_record(smiles):
  with pytest.raises(errors.DataError,
                     match=r"record train.txt, line 7: invalid SMILES"):
    molecules.smiles_to_graph(smiles, record="train.txt, line 7")


def test_padding_to_a_budget_and_its_overflow_error():
  g = molecules.smiles_to_graph("CCO")
  p = molecules.padded(g, max_atoms=5, max_edges=8)
  assert p["nodes"].shape == (6, len(molecules.NODE_FEATURES))
  assert p["senders"].shape == (8,)
  assert p["n_node"].tolist() == [3, 3] and p["n_edge"].tolist() == [4, 4]
  np.testing.assert_array_equal(p["nodes"][:3], g.nodes)
  # Padding edges stay inside the padding graph.
  assert (p["senders"][4:] >= 3).all() and (p["receivers"][4:] >= 3).all()
  with pytest.raises(errors.DataError, match="data.max_atoms=2"):
    molecules.padded(g, max_atoms=2, max_edges=8, record="x")


def test_embedded_molecules_are_seeded_valid_and_described():
  names = molecule_text.unique_names(0, 30)
  assert len(set(names)) == 30
  items = [molecule_text.make_item(0, 0, i, num_descriptions=2,
                                   name=names[i]) for i in range(30)]
  again = molecule_text.make_item(0, 0, 3, num_descriptions=2,
                                  name=names[3])
  assert again == items[3]
  vocab = set(molecule_text.vocabulary())
  for it in items:
    g = molecules.smiles_to_graph(it.smiles)  # RDKit reads it back
    assert g.num_atoms <= 32
    assert len(it.descriptions) == 2
    for d in it.descriptions:
      assert it.name in d
      assert set(d.replace(it.name, "").split()) <= vocab
    for group in it.groups:
      assert group in it.descriptions[0]
  # The per-item chain is drawn apart from the name: chains repeat.
  assert len({it.chain for it in items}) < len(items)


def test_embedded_descriptions_say_nothing_of_the_chain(monkeypatch):
  # The same item with other chains (the rng draws stay the same): other
  # molecules, the same descriptions, so only memorisation links a chain
  # to its name.
  draw = molecule_text._chain
  items = []
  for chain in ("CCCC", "OCCC", "NCSC"):
    monkeypatch.setattr(molecule_text, "_chain",
                        lambda rng, chain=chain: (draw(rng), chain)[1])
    items.append([molecule_text.make_item(0, 0, i, num_descriptions=4,
                                          name="tovika") for i in range(20)])
  for a, b in zip(items[0], items[1]):
    assert a.smiles != b.smiles
    assert a.descriptions == b.descriptions
  for a, c in zip(items[0], items[2]):
    assert a.descriptions == c.descriptions

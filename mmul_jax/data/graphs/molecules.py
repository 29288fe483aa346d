"""Molecules as graphs: SMILES -> atom and bond features (RDKit), padded to
fixed budgets with `jraph.pad_with_graphs` so every batch has one shape.

Node features (one int per column, each embedded by the graph encoder):

| column | values |
|---|---|
| element | index into `ELEMENTS` (C, N, O, F, P, S, Cl, Br, I, B, Si, Se), last index: any other |
| degree | heavy-atom neighbours, 0-5 (more: 5) |
| formal charge | -2..+2, stored + 2 (clipped) |
| hydrogens | attached H, explicit and implicit, 0-4 (more: 4) |
| hybridisation | S, SP, SP2, SP3, SP3D, SP3D2, other |
| aromatic | 0 / 1 |
| in ring | 0 / 1 |
| chirality | unspecified, CW, CCW, other |

Edge features (each bond gives two directed edges, one per direction):

| column | values |
|---|---|
| bond type | single, double, triple, aromatic, other |
| conjugated | 0 / 1 |
| in ring | 0 / 1 |
| stereo | none, any, Z / cis, E / trans, other |

Hydrogens are implicit (a feature of their heavy atom), as in most
molecular graph models.
"""

from __future__ import annotations

import dataclasses

import jraph
import numpy as np
from tqdm.auto import tqdm

from mmul_jax import errors

ELEMENTS = ("C", "N", "O", "F", "P", "S", "Cl", "Br", "I", "B", "Si", "Se")
# (name, number of values) per node / edge feature column.
NODE_FEATURES = (("element", len(ELEMENTS) + 1), ("degree", 6),
                 ("formal_charge", 5), ("hydrogens", 5),
                 ("hybridisation", 7), ("aromatic", 2), ("in_ring", 2),
                 ("chirality", 4))
EDGE_FEATURES = (("bond_type", 5), ("conjugated", 2), ("in_ring", 2),
                 ("stereo", 5))


@dataclasses.dataclass(frozen=True)
class MoleculeGraph:
  """One molecule: `nodes` int32 `(atoms, len(NODE_FEATURES))`, `edges`
  int32 `(2 * bonds, len(EDGE_FEATURES))`, `senders` / `receivers` int32
  `(2 * bonds,)` atom indices."""

  nodes: np.ndarray
  edges: np.ndarray
  senders: np.ndarray
  receivers: np.ndarray

  @property
  def num_atoms(self) -> int:
    return len(self.nodes)

  @property
  def num_bonds(self) -> int:
    return len(self.senders) // 2


def _rdkit():
  chem = errors.require("rdkit.Chem", extra="molecules",
                        needed_for="reading SMILES")
  # Parse failures become our DataError, not RDKit's log lines.
  errors.require("rdkit.RDLogger", extra="molecules",
                 needed_for="reading SMILES").DisableLog("rdApp.*")
  return chem


def parse_smiles(smiles: str, *, record: str = "?"):
  """An RDKit molecule; `DataError` naming `record` if RDKit rejects it."""
  chem = _rdkit()
  mol = chem.MolFromSmiles(smiles) if smiles else None
  if mol is None or mol.GetNumAtoms() == 0:
    raise errors.DataError(
        f"record {record}: invalid SMILES {smiles!r} (RDKit could not parse "
        "it); fix or drop that record")
  return mol


def _index(value, table) -> int:
  """Position of `value` in `table`; unknown values get the last index."""
  try:
    return table.index(value)
  except ValueError:
    return len(table)


def mol_to_graph(mol) -> MoleculeGraph:
  """Atom and bond features of an RDKit molecule (see the module doc)."""
  chem = _rdkit()
  hyb = chem.rdchem.HybridizationType
  hybrids = [hyb.S, hyb.SP, hyb.SP2, hyb.SP3, hyb.SP3D, hyb.SP3D2]
  chiral = chem.rdchem.ChiralType
  chirals = [chiral.CHI_UNSPECIFIED, chiral.CHI_TETRAHEDRAL_CW,
             chiral.CHI_TETRAHEDRAL_CCW]
  bt = chem.rdchem.BondType
  bond_types = [bt.SINGLE, bt.DOUBLE, bt.TRIPLE, bt.AROMATIC]
  st = chem.rdchem.BondStereo
  stereos = [st.STEREONONE, st.STEREOANY, st.STEREOZ, st.STEREOE]
  cis_trans = {st.STEREOCIS: st.STEREOZ, st.STEREOTRANS: st.STEREOE}
  nodes = [(_index(a.GetSymbol(), list(ELEMENTS)), min(a.GetDegree(), 5),
            int(np.clip(a.GetFormalCharge(), -2, 2)) + 2,
            min(a.GetTotalNumHs(), 4), _index(a.GetHybridization(), hybrids),
            int(a.GetIsAromatic()), int(a.IsInRing()),
            _index(a.GetChiralTag(), chirals)) for a in mol.GetAtoms()]
  senders, receivers, edges = [], [], []
  for b in mol.GetBonds():
    stereo = cis_trans.get(b.GetStereo(), b.GetStereo())
    feats = (_index(b.GetBondType(), bond_types), int(b.GetIsConjugated()),
             int(b.IsInRing()), _index(stereo, stereos))
    i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
    senders += [i, j]
    receivers += [j, i]
    edges += [feats, feats]
  as_int = lambda x, width: np.asarray(x, np.int32).reshape(-1, width)
  return MoleculeGraph(
      nodes=as_int(nodes, len(NODE_FEATURES)),
      edges=as_int(edges, len(EDGE_FEATURES)),
      senders=np.asarray(senders, np.int32),
      receivers=np.asarray(receivers, np.int32))


def smiles_to_graph(smiles: str, *, record: str = "?") -> MoleculeGraph:
  """`parse_smiles` then `mol_to_graph`."""
  return mol_to_graph(parse_smiles(smiles, record=record))


def to_graphs_tuple(g: MoleculeGraph) -> jraph.GraphsTuple:
  """A one-graph `jraph.GraphsTuple` (numpy arrays)."""
  return jraph.GraphsTuple(
      nodes=g.nodes, edges=g.edges, senders=g.senders,
      receivers=g.receivers, globals=None,
      n_node=np.asarray([g.num_atoms], np.int32),
      n_edge=np.asarray([len(g.senders)], np.int32))


def graph_sizes(source, desc: str = "measure molecules") -> np.ndarray:
  """`(N, 2)` int: every record's atoms and directed bonds (the two
  padding budgets), in record order."""
  return np.asarray(
      [(len(r["nodes"]), len(r["senders"])) for r in (
          source[i] for i in tqdm(range(len(source)), desc=desc,
                                  leave=False, mininterval=2))],
      np.int64).reshape(-1, 2)


def padded(g: MoleculeGraph, *, max_atoms: int, max_edges: int,
           record: str = "?") -> dict[str, np.ndarray]:
  """The molecule padded by `jraph.pad_with_graphs` to `max_atoms + 1`
  nodes, `max_edges` edges and 2 graphs (the molecule, then the padding
  graph), as a dict of fixed-shape arrays: one example of the model's
  graph input (`nodes`, `edges`, `senders`, `receivers`, `n_node`,
  `n_edge`). A batch stacks these along a leading axis."""
  if g.num_atoms > max_atoms or len(g.senders) > max_edges:
    raise errors.DataError(
        f"record {record}: the molecule has {g.num_atoms} heavy atoms and "
        f"{len(g.senders)} directed bonds, over the budget of "
        f"data.max_atoms={max_atoms} / data.max_edges={max_edges}; raise "
        "them (every batch is padded to them)")
  p = jraph.pad_with_graphs(to_graphs_tuple(g), n_node=max_atoms + 1,
                            n_edge=max_edges, n_graph=2)
  return {k: np.asarray(getattr(p, k), np.int32) for k in
          ("nodes", "edges", "senders", "receivers", "n_node", "n_edge")}

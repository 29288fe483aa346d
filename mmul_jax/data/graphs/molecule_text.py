"""The embedded molecule-text dataset: real molecules assembled from
fragments with RDKit, described in words from computed properties.

Every item is generated from its own seed, so the dataset is the same on
every machine. An item has two kinds of content:

* **Generalisable structure.** A ring scaffold (benzene, pyridine,
  thiophene, cyclohexane, ...) with one substituent (hydroxy, amino,
  chloro, carboxylic acid, nitrile, ...). Descriptions name the scaffold,
  the functional group RDKit finds (SMARTS matches, so a carboxylic acid
  is not also called a hydroxy group) and computed properties (rings; size
  from the heavy-atom count), so a model can learn to describe molecules
  it has never seen. They are coarse on purpose: with 8 scaffolds and 14
  substituents, a few test molecules share each description, as many
  scenes of the shapes dataset share a caption (test recall@1 stays well
  below 100 % however well a model generalises).
* **Per-item detail.** A side chain of four atoms drawn from C, N, O and S
  (no two heteroatoms adjacent) at another random ring position, and a
  random made-up name in every description ("tovika"). Chain and name are drawn
  independently, so only a model that saw the item in training can tell
  that chain X goes with name Y: the membership signal that unlearning must
  remove. Descriptions say only that there is a side chain.

Names are unique across splits (the shapes dataset's syllables).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mmul_jax.data.graphs import molecules
from mmul_jax.data.generated import shapes

# name, SMILES; substituents attach at ring atoms that carry a hydrogen.
SCAFFOLDS = (("benzene", "c1ccccc1"), ("pyridine", "c1ccncc1"),
             ("thiophene", "c1ccsc1"), ("furan", "c1ccoc1"),
             ("pyrrole", "c1cc[nH]c1"), ("cyclohexane", "C1CCCCC1"),
             ("piperidine", "C1CCNCC1"), ("naphthalene", "c1ccc2ccccc2c1"))
# name, SMILES with the attachment point `*`.
SUBSTITUENTS = (("methyl", "*C"), ("ethyl", "*CC"), ("hydroxy", "*O"),
                ("amino", "*N"), ("chloro", "*Cl"), ("fluoro", "*F"),
                ("bromo", "*Br"), ("methoxy", "*OC"), ("nitro", "*[N+](=O)[O-]"),
                ("carboxylic acid", "*C(=O)O"), ("nitrile", "*C#N"),
                ("acetyl", "*C(C)=O"), ("amide", "*C(N)=O"),
                ("ester", "*C(=O)OC"))
# Functional groups the descriptions report, by SMARTS (first match wins
# over the atoms it uses, so the order goes from large to small).
GROUPS = (("carboxylic acid", "[CX3](=O)[OX2H1]"),
          ("ester", "[CX3](=O)[OX2][#6]"), ("amide", "[CX3](=O)[NX3]"),
          ("nitro", "[N+](=O)[O-]"), ("nitrile", "C#N"),
          ("ketone", "[#6][CX3](=O)[#6]"), ("hydroxy", "[OX2H1][#6]"),
          ("amine", "[NX3;H2,H1;!$(NC=O)]"), ("ether", "[OD2]([#6])[#6]"),
          ("thioether", "[SD2]([#6])[#6]"), ("chloro", "Cl"),
          ("fluoro", "F"), ("bromo", "Br"))
CHAIN_ATOMS = ("C", "N", "O", "S")
CHAIN_LENGTH = 4
TEMPLATES = (
    "{name} : {article} {scaffold} ring with {groups} and a side chain",
    "{name} is a {size} molecule with {rings} , carrying {groups}",
    "a {scaffold} compound called {name} carrying {groups}",
    "{name} has {groups} on {article} {scaffold} ring",
)
# Heavy-atom counts below each bound get the size word (coarse on purpose:
# exact counts would identify most molecules without their names).
SIZES = ((12, "small"), (18, "medium"), (1000, "large"))
COUNT_WORDS = ("no", "one", "two", "three", "four", "five")


@dataclasses.dataclass(frozen=True)
class Item:
  smiles: str
  descriptions: tuple[str, ...]
  name: str
  scaffold: str
  groups: tuple[str, ...]
  chain: str


def vocabulary() -> list[str]:
  """Every word a description can contain; names split into syllables."""
  words = set()
  for t in TEMPLATES:
    for field in ("{name}", "{article}", "{scaffold}", "{groups}",
                  "{size}", "{rings}"):
      t = t.replace(field, " ")
    words.update(t.split())
  words.update(["a", "an", "and", ",", "group", "groups", "ring", "rings",
                "alkyl"])
  words.update(w for s, _ in SCAFFOLDS for w in s.split())
  words.update(w for g, _ in GROUPS for w in g.split())
  words.update(COUNT_WORDS)
  words.update(w for _, w in SIZES)
  return sorted(words)


def _chain(rng: np.random.Generator) -> str:
  """A side chain SMILES like "CNCO": no two heteroatoms in a row, so it
  stays an amine / ether / thioether chain."""
  atoms = []
  for _ in range(CHAIN_LENGTH):
    choices = CHAIN_ATOMS if not atoms or atoms[-1] == "C" else ("C",)
    atoms.append(choices[int(rng.integers(len(choices)))])
  return "".join(atoms)


def _attach(chem, mol, atom_index: int, fragment_smiles: str):
  """`mol` with the fragment (`*` marks its attachment) bonded to atom
  `atom_index` by a single bond."""
  frag = chem.MolFromSmiles(fragment_smiles)
  star = next(a for a in frag.GetAtoms() if a.GetAtomicNum() == 0)
  anchor = star.GetNeighbors()[0].GetIdx()
  combined = chem.RWMol(chem.CombineMols(mol, frag))
  offset = mol.GetNumAtoms()
  combined.AddBond(atom_index, offset + anchor, chem.BondType.SINGLE)
  combined.RemoveAtom(offset + star.GetIdx())
  out = combined.GetMol()
  chem.SanitizeMol(out)
  return out


def functional_groups(mol) -> tuple[str, ...]:
  """The `GROUPS` RDKit finds in `mol`, each atom counted once, sorted."""
  chem = molecules._rdkit()
  used, found = set(), set()
  for name, smarts in GROUPS:
    for match in mol.GetSubstructMatches(chem.MolFromSmarts(smarts)):
      if not used & set(match):
        used.update(match)
        found.add(name)
  return tuple(sorted(found))


def _join(parts) -> str:
  parts = [f"{p} group" if " " not in p else p for p in parts]
  return parts[0] if len(parts) == 1 else (
      " , ".join(parts[:-1]) + " and " + parts[-1])


def make_item(seed: int, split_index: int, index: int, *,
              num_descriptions: int, name: str) -> Item:
  """Item `index` of a split; a pure function of its arguments."""
  if num_descriptions > len(TEMPLATES):
    raise ValueError(f"at most {len(TEMPLATES)} descriptions per molecule")
  chem = molecules._rdkit()
  rng = np.random.default_rng([seed, split_index, index, 31])
  scaffold, smiles = SCAFFOLDS[int(rng.integers(len(SCAFFOLDS)))]
  mol = chem.MolFromSmiles(smiles)
  free = [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0
          and a.GetAtomicNum() == 6]
  chain_site, site = rng.permutation(free)[:2]
  chain = _chain(rng)
  _, frag = SUBSTITUENTS[int(rng.integers(len(SUBSTITUENTS)))]
  # Atom indices of `mol` stay valid: fragments are appended after them.
  mol = _attach(chem, mol, int(site), frag)
  # The groups are read before the chain is attached, so the descriptions
  # say nothing of the chain's atoms.
  groups = functional_groups(mol) or ("alkyl",)  # methyl, ethyl: say so
  mol = _attach(chem, mol, int(chain_site), "*" + chain)
  rings = mol.GetRingInfo().NumRings()
  fields = dict(
      name=name, scaffold=scaffold,
      article="an" if scaffold[0] in "aeiou" else "a",
      size=next(w for bound, w in SIZES if mol.GetNumHeavyAtoms() < bound),
      rings=f"{COUNT_WORDS[rings]} ring{'s' if rings != 1 else ''}")
  descriptions = []
  for t in rng.permutation(len(TEMPLATES))[:num_descriptions]:
    order = rng.permutation(len(groups))
    descriptions.append(TEMPLATES[t].format(
        groups=_join([groups[i] for i in order]), **fields))
  return Item(chem.MolToSmiles(mol), tuple(descriptions), name, scaffold,
              groups, chain)


def unique_names(seed: int, count: int) -> list[str]:
  """`count` distinct made-up names that do not start with a description
  word (so WordPiece splits them into syllables)."""
  return shapes.unique_names(seed + 104729, count, tuple(vocabulary()))

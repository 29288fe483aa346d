"""Molecules as graphs: SMILES to graph features, the embedded
molecule-text generator, and the molecule datasets' builders and specs."""

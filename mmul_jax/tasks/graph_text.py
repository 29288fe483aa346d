"""Graph-text retrieval (the embedded molecules, ChEBI-20): a Jraph graph
tower in the image tower's place (`models.GraphTextEncoder`); training,
MMUL's terms, evaluation and reports are retrieval's."""

from __future__ import annotations

import jax
import numpy as np

from mmul_jax import errors
from mmul_jax import models
from mmul_jax.data.graphs import molecules
from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import example_scores
from mmul_jax.tasks import base
from mmul_jax.tasks import retrieval


class GraphTextRetrieval(retrieval.Retrieval):
  """Molecule-text retrieval; molecules are padded to `data.max_atoms` /
  `data.max_edges`, which it reads (and measures when 0)."""

  name = "graph_text"
  representations = example_scores.retrieval_representations("graph")

  def build_model(self, model_config):
    return models.build(model_config, modality="graph")

  def init_params(self, model, config, seed: int):
    graph = molecules.MoleculeGraph(  # one molecule of a single atom
        np.zeros((1, len(molecules.NODE_FEATURES)), np.int32),
        np.zeros((0, len(molecules.EDGE_FEATURES)), np.int32),
        np.zeros((0,), np.int32), np.zeros((0,), np.int32))
    shape = pipeline.InputShape.of(config.data)
    example = molecules.padded(graph, max_atoms=shape.max_atoms,
                               max_edges=shape.max_edges)
    return jax.jit(model.init)(jax.random.key(seed),
                               pipeline.stack([example]),
                               base.zeros_text(config.model))

  def check_splits(self, data_config, splits):
    graph_budgets(data_config, splits)


def graph_budgets(d, splits: dict) -> None:
  """Every molecule must fit `data.max_atoms` / `data.max_edges`: checked
  over whole splits before any compute (the pipeline would otherwise stop
  at the first oversized batch, mid-training), naming the sizes needed. A
  budget of 0 is set here to the largest molecule's (so the fingerprints
  record the budget used)."""
  need = {}
  for name, split in splits.items():
    sizes = molecules.graph_sizes(split.source, desc=f"measure {name}")
    need[name] = (int(sizes[:, 0].max(initial=1)),
                  int(sizes[:, 1].max(initial=0)))
  atoms = max(a for a, _ in need.values())
  edges = max(e for _, e in need.values())
  d.max_atoms = d.max_atoms or atoms
  d.max_edges = d.max_edges or edges
  if atoms > d.max_atoms or edges > d.max_edges:
    raise errors.ConfigError(
        f"the largest molecules of {d.name} have {atoms} atoms and {edges} "
        f"directed bonds (per split: {need}), over data.max_atoms="
        f"{d.max_atoms} / data.max_edges={d.max_edges}; set "
        f"--config.data.max_atoms={atoms} --config.data.max_edges={edges} "
        "(or 0 for both: the largest molecule's)")

"""Graph-text dual encoder: the molecule graph encoder (`graph.py`) in the
image tower's place, the CLIP text tower and the fusion encoder.

It answers the same calls as `clip.DualEncoder` with the same output keys,
so every loss term, method and metric runs on it unchanged: the "image" of
a pair is a molecule graph. `encode_image` takes a batch of molecules, each
padded by `jraph.pad_with_graphs` to the same budget (`data.molecules.
padded`: arrays with a leading batch axis). Joining them is `jraph.batch`
on fixed shapes: node indices are offset by each molecule's position, and
the padding graphs stay where they are. Its outputs:
`image_embed` (the normalised graph readout), `image_tokens` (node
features, `(B, max_atoms + 1, width)`) and `image_mask` (real atoms), which
the fusion encoder cross-attends to.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from mmul_jax.data.graphs import molecules
from mmul_jax.models import clip
from mmul_jax.models import graph
from mmul_jax.models import layers


def join_padded(batch: dict[str, jax.Array]) -> jraph.GraphsTuple:
  """`B` padded molecules (leading axis) as one `GraphsTuple` of `2B`
  graphs: molecule b is graph 2b, its padding graph 2b + 1."""
  b, n = batch["nodes"].shape[:2]
  e = batch["senders"].shape[1]
  offsets = (jnp.arange(b, dtype=jnp.int32) * n)[:, None]
  return jraph.GraphsTuple(
      nodes=batch["nodes"].reshape(b * n, -1),
      edges=batch["edges"].reshape(b * e, -1),
      senders=(batch["senders"] + offsets).reshape(-1),
      receivers=(batch["receivers"] + offsets).reshape(-1),
      n_node=batch["n_node"].reshape(-1), n_edge=batch["n_edge"].reshape(-1),
      globals=None)


class GraphTextEncoder(nn.Module):
  """Graph tower `graph`, text tower `txt`, fusion encoder `fusion`."""

  embed_dim: int
  graph_width: int
  graph_layers: int
  vocab_size: int
  context_length: int
  text_width: int
  text_layers: int
  text_heads: int
  eot_id: int
  fusion_width: int
  fusion_layers: int
  fusion_heads: int
  graph_layer: str = "gin"
  graph_heads: int = 4
  mlp_ratio: float = 4.0
  activation: str = "quick_gelu"
  dropout_rate: float = 0.0
  logit_scale_init: float = float(np.log(1 / 0.07))
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS
  num_classes: int = 0  # graph-text tasks here are retrieval

  def setup(self):
    if self.num_classes:
      raise ValueError("the graph-text encoder has no class head")
    self.graph = graph.GraphEncoder(
        node_sizes=tuple(n for _, n in molecules.NODE_FEATURES),
        edge_sizes=tuple(n for _, n in molecules.EDGE_FEATURES),
        width=self.graph_width, num_layers=self.graph_layers,
        embed_dim=self.embed_dim, layer_type=self.graph_layer,
        num_heads=self.graph_heads, dropout_rate=self.dropout_rate,
        dtype=self.dtype, layer_norm_eps=self.layer_norm_eps)
    self.txt, self.fusion, self.logit_scale = clip.text_fusion_and_scale(
        self)

  def encode_image(self, graphs: dict[str, jax.Array], *,
                   train: bool = False) -> dict[str, jax.Array]:
    """`graphs`: padded molecules stacked on a leading batch axis."""
    b, n = graphs["nodes"].shape[:2]
    embed, nodes = self.graph(join_padded(graphs), train=train)
    mask = jnp.arange(n)[None, :] < graphs["n_node"][:, :1]
    return {"image_embed": clip.l2_normalize(
                embed[0::2].astype(jnp.float32)),
            "image_tokens": nodes.reshape(b, n, -1),
            "image_mask": mask}

  def encode_text(self, text: jax.Array, *,
                  train: bool = False) -> dict[str, jax.Array]:
    return clip.text_outputs(self.txt, text, train=train)

  def fuse(self, image_tokens: jax.Array, text_tokens: jax.Array,
           text_mask: jax.Array, image_mask: jax.Array | None = None, *,
           train: bool = False) -> dict[str, jax.Array]:
    return clip.fusion_outputs(self.fusion, image_tokens, text_tokens,
                               text_mask, image_mask, train=train)

  def __call__(self, graphs, text: jax.Array, *,
               train: bool = False) -> dict[str, jax.Array]:
    return clip.all_outputs(self, graphs, text, train=train)

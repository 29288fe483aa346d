"""Replacements for the jraph 0.0.6.dev0 helpers broken on current JAX.

jraph's last release (2022) still calls `jax.tree_map` / `jax.tree_leaves`,
removed from JAX, in `jraph.zero_out_padding` and (with features)
`jraph.get_fully_connected_graph`. The rest of jraph (GraphsTuple, the
models, `pad_with_graphs`, the padding masks, segment ops) works, and these
functions build on it. Same signatures and results as the originals.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np


def _mask_like(mask: jax.Array, x: jax.Array) -> jax.Array:
  return mask.reshape(mask.shape + (1,) * (x.ndim - 1))


def zero_out_padding(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
  """Sets the features of padding nodes, edges and graphs to zero.

  The padding is what `jraph.pad_with_graphs` adds: the last graph of the
  batch and the nodes and edges that belong to it.
  """
  masks = {
      "nodes": jraph.get_node_padding_mask(graph),
      "edges": jraph.get_edge_padding_mask(graph),
      "globals": jraph.get_graph_padding_mask(graph),
  }
  zeroed = {}
  for field, mask in masks.items():
    value = getattr(graph, field)
    zeroed[field] = None if value is None else jax.tree.map(
        lambda x, m=mask: jnp.where(_mask_like(m, x), x, jnp.zeros_like(x)),
        value)
  return graph._replace(**zeroed)


def get_fully_connected_graph(n_node_per_graph: int, n_graph: int,
                              node_features=None, global_features=None,
                              add_self_edges: bool = True
                              ) -> jraph.GraphsTuple:
  """`n_graph` graphs of `n_node_per_graph` nodes, every pair connected.

  Edges run from every node to every node of the same graph (both
  directions), with or without self edges. Node features, if given, have a
  leading axis of `n_graph * n_node_per_graph`; global features one of
  `n_graph`.
  """
  n = n_node_per_graph  # static: the structure is built with numpy
  src, dst = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
  src, dst = src.ravel(), dst.ravel()
  if not add_self_edges:
    keep = src != dst
    src, dst = src[keep], dst[keep]
  offsets = (np.arange(n_graph) * n)[:, None]
  senders = jnp.asarray((src[None, :] + offsets).ravel(), jnp.int32)
  receivers = jnp.asarray((dst[None, :] + offsets).ravel(), jnp.int32)
  n_edge_per_graph = src.shape[0]
  for what, feats, lead in (("node", node_features, n_graph * n),
                            ("global", global_features, n_graph)):
    if feats is not None:
      for leaf in jax.tree.leaves(feats):
        if leaf.shape[0] != lead:
          raise ValueError(f"{what} features need a leading axis of {lead}, "
                           f"got shape {leaf.shape}")
  return jraph.GraphsTuple(
      nodes=node_features, edges=None, globals=global_features,
      senders=senders, receivers=receivers,
      n_node=jnp.full((n_graph,), n, jnp.int32),
      n_edge=jnp.full((n_graph,), n_edge_per_graph, jnp.int32))

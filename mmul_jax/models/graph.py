"""A message-passing graph encoder over `jraph.GraphsTuple` (Flax Linen).

The input is a padded batch as `jraph.pad_with_graphs` lays it out: every
graph's nodes and edges are contiguous, graph `g` owns `n_node[g]` nodes and
`n_edge[g]` edges, and padding graphs hold the padding nodes and edges.
Nothing a real graph computes reads a padding graph: messages run along
edges, which never cross graphs, and the readout pools each graph's own
nodes. So the embedding of a real graph does not depend on how much padding
its batch carries, nor on the order of its nodes (sum aggregation, softmax
over incoming edges, mean pooling).

Layers (`layer_type`):
* "gin": GINE (Hu et al., 2020; GIN of Xu et al., 2019, with edge features):
  h_i <- MLP((1 + eps) h_i + sum_{j -> i} relu(h_j + e_ji)).
* "gat": GATv2-style attention (Brody et al., 2022) with edge features:
  per head, a_ji = softmax over j -> i of w . leaky_relu(W [h_j; h_i; e_ji]),
  h_i <- sum_j a_ji V h_j.
Each layer is a pre-LayerNorm residual block, as in the transformers.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from mmul_jax.models import layers

LAYER_TYPES = ("gin", "gat")


def node_graph_index(graph: jraph.GraphsTuple) -> jax.Array:
  """The graph each node belongs to, `(N,)` (static total length)."""
  n_graph = graph.n_node.shape[0]
  return jnp.repeat(jnp.arange(n_graph), graph.n_node,
                    total_repeat_length=graph.nodes.shape[0])


class CategoricalEmbed(nn.Module):
  """Sum of one embedding per integer feature column (`sizes[c]` values)."""

  sizes: Sequence[int]
  width: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    out = 0.0
    for c, size in enumerate(self.sizes):
      # Out-of-range values (bad input) clip into the table instead of
      # reading garbage.
      idx = jnp.clip(x[..., c], 0, size - 1)
      out = out + nn.Embed(size, self.width, dtype=self.dtype,
                           name=f"embed_{c}")(idx)
    return out


class GINLayer(nn.Module):
  """GINE message passing; returns the update for the residual stream."""

  mlp_ratio: float = 2.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, h, e, senders, receivers):
    width = h.shape[-1]
    msg = nn.relu(h[senders] + e)
    agg = jax.ops.segment_sum(msg, receivers, num_segments=h.shape[0])
    eps = self.param("eps", nn.initializers.zeros, ())
    y = (1.0 + eps).astype(h.dtype) * h + agg
    y = nn.Dense(int(width * self.mlp_ratio), dtype=self.dtype,
                 name="mlp_in")(y)
    return nn.Dense(width, dtype=self.dtype, name="mlp_out")(nn.gelu(y))


class GATLayer(nn.Module):
  """Multi-head attention over each node's incoming edges."""

  num_heads: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, h, e, senders, receivers):
    n, width = h.shape
    if width % self.num_heads:
      raise ValueError(f"graph width {width} is not divisible by "
                       f"{self.num_heads} heads")
    hd = width // self.num_heads
    split = lambda x: x.reshape(x.shape[0], self.num_heads, hd)
    src = split(nn.Dense(width, dtype=self.dtype, name="src")(h))[senders]
    dst = split(nn.Dense(width, dtype=self.dtype, name="dst")(h))[receivers]
    edge = split(nn.Dense(width, dtype=self.dtype, name="edge")(e))
    score = nn.DenseGeneral(1, dtype=self.dtype, name="score")(
        nn.leaky_relu(src + dst + edge, 0.2))[..., 0]  # (E, heads)
    att = jraph.segment_softmax(score.astype(jnp.float32), receivers,
                                num_segments=n)
    value = split(nn.Dense(width, dtype=self.dtype, name="value")(h))
    msg = att[..., None].astype(h.dtype) * value[senders]
    agg = jax.ops.segment_sum(msg, receivers, num_segments=n)
    return nn.Dense(width, dtype=self.dtype, name="out")(
        agg.reshape(n, width))


class GraphEncoder(nn.Module):
  """Node and edge embeddings, `num_layers` message-passing blocks, mean
  readout per graph and a projection to `embed_dim`.

  Returns `(graph_embed (n_graph, embed_dim), node_features (N, width))`;
  rows of padding graphs and padding nodes are computed but meaningless.
  """

  node_sizes: Sequence[int]
  edge_sizes: Sequence[int]
  width: int
  num_layers: int
  embed_dim: int
  layer_type: str = "gin"
  num_heads: int = 4
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32
  layer_norm_eps: float = layers.DEFAULT_LN_EPS

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, *,
               train: bool) -> tuple[jax.Array, jax.Array]:
    if self.layer_type not in LAYER_TYPES:
      raise ValueError(f"unknown graph layer {self.layer_type!r}; use one "
                       f"of {LAYER_TYPES}")
    h = CategoricalEmbed(self.node_sizes, self.width, self.dtype,
                         name="node_embed")(graph.nodes)
    e = CategoricalEmbed(self.edge_sizes, self.width, self.dtype,
                         name="edge_embed")(graph.edges)
    ln = lambda name: nn.LayerNorm(epsilon=self.layer_norm_eps,
                                   dtype=self.dtype, name=name)
    for i in range(self.num_layers):
      if self.layer_type == "gin":
        layer = GINLayer(dtype=self.dtype, name=f"gin_{i}")
      else:
        layer = GATLayer(self.num_heads, dtype=self.dtype, name=f"gat_{i}")
      update = layer(ln(f"ln_{i}")(h), e, graph.senders, graph.receivers)
      h = h + nn.Dropout(self.dropout_rate)(update, deterministic=not train)
    h = ln("ln_final")(h)
    n_graph = graph.n_node.shape[0]
    seg = node_graph_index(graph)
    total = jax.ops.segment_sum(h.astype(jnp.float32), seg, n_graph)
    count = jnp.maximum(graph.n_node, 1)[:, None].astype(jnp.float32)
    pooled = (total / count).astype(self.dtype)
    embed = nn.Dense(self.embed_dim, use_bias=False, dtype=self.dtype,
                     name="proj")(pooled)
    return embed, h

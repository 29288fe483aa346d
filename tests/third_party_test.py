"""Our replacements for the jraph helpers that call removed JAX aliases."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from mmul_jax.third_party import jraph_compat


def _graph():
  g = jraph.GraphsTuple(
      nodes=jnp.arange(1, 6, dtype=jnp.float32)[:, None] * jnp.ones((5, 2)),
      edges={"w": jnp.ones((4, 3))},
      senders=jnp.array([0, 1, 2, 3]), receivers=jnp.array([1, 0, 3, 4]),
      globals=jnp.ones((2, 1)), n_node=jnp.array([2, 3]),
      n_edge=jnp.array([2, 2]))
  return jraph.pad_with_graphs(g, n_node=8, n_edge=7, n_graph=4)


def test_zero_out_padding_keeps_real_and_zeroes_padding():
  padded = _graph()
  padded = padded._replace(
      nodes=padded.nodes + 7.0,
      edges=jax.tree.map(lambda e: e + 7.0, padded.edges),
      globals=padded.globals + 7.0)
  out = jax.jit(jraph_compat.zero_out_padding)(padded)
  np.testing.assert_array_equal(out.nodes[:5], padded.nodes[:5])
  assert np.all(np.asarray(out.nodes[5:]) == 0)
  np.testing.assert_array_equal(out.edges["w"][:4], padded.edges["w"][:4])
  assert np.all(np.asarray(out.edges["w"][4:]) == 0)
  np.testing.assert_array_equal(out.globals[:2], padded.globals[:2])
  assert np.all(np.asarray(out.globals[2:]) == 0)
  np.testing.assert_array_equal(out.senders, padded.senders)


def test_fully_connected_graph_structure():
  feats = jnp.arange(6.0)[:, None]
  g = jax.jit(jraph_compat.get_fully_connected_graph,
              static_argnums=(0, 1, 4))(3, 2, feats, jnp.ones((2, 1)), False)
  pairs = set(zip(np.asarray(g.senders).tolist(),
                  np.asarray(g.receivers).tolist()))
  expected = {(s, r) for base in (0, 3) for s in range(base, base + 3)
              for r in range(base, base + 3) if s != r}
  assert pairs == expected and len(g.senders) == len(expected)
  np.testing.assert_array_equal(g.n_edge, [6, 6])
  np.testing.assert_array_equal(g.n_node, [3, 3])
  with_self = jraph_compat.get_fully_connected_graph(3, 2)
  assert len(with_self.senders) == 18 and with_self.nodes is None
  # Works with jraph's own ops: every node receives from n - 1 others.
  deg = jax.ops.segment_sum(jnp.ones_like(g.senders), g.receivers, 6)
  np.testing.assert_array_equal(deg, [2] * 6)

"""The Jraph graph encoder and the graph-text model: permutation and
padding invariance, one compilation for batches of any molecules."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from mmul_jax.data.graphs import molecules
from mmul_jax.data.core import pipeline
from mmul_jax.losses import _contrastive as contrastive
from mmul_jax.models import graph
from mmul_jax.models import graph_text

SMILES = ("CC(=O)Oc1ccccc1C(=O)O", "c1ccncc1CCN", "OCC(O)CO")
SIZES = dict(node_sizes=tuple(n for _, n in molecules.NODE_FEATURES),
             edge_sizes=tuple(n for _, n in molecules.EDGE_FEATURES))
TEXT = dict(embed_dim=16, vocab_size=32, context_length=8, text_width=16,
            text_layers=1, text_heads=2, eot_id=2, fusion_width=16,
            fusion_layers=1, fusion_heads=2)


def _encoder(layer_type):
  return graph.GraphEncoder(**SIZES, width=16, num_layers=3, embed_dim=8,
                            layer_type=layer_type, num_heads=2)


def _batch(smiles, n_node, n_edge):
  gs = [molecules.to_graphs_tuple(molecules.smiles_to_graph(s))
        for s in smiles]
  return jraph.pad_with_graphs(jraph.batch(gs), n_node=n_node,
                               n_edge=n_edge, n_graph=len(gs) + 1)


def _permuted(g: molecules.MoleculeGraph, perm: np.ndarray):
  """The same molecule with atom i renamed perm[i], edges shuffled."""
  inv = np.argsort(perm)
  order = np.random.default_rng(1).permutation(len(g.senders))
  return molecules.MoleculeGraph(g.nodes[inv], g.edges[order],
                                 perm[g.senders][order].astype(np.int32),
                                 perm[g.receivers][order].astype(np.int32))


# The default suite runs node order with GIN and padding with GAT; the
# slow suite both with both.
@pytest.mark.parametrize("layer_type", [
    "gin", pytest.param("gat", marks=pytest.mark.slow)])
def test_graph_embedding_ignores_node_order(layer_type):
  enc = _encoder(layer_type)
  g = molecules.smiles_to_graph(SMILES[0])
  perm = np.random.default_rng(0).permutation(g.num_atoms)
  a = molecules.to_graphs_tuple(g)
  b = molecules.to_graphs_tuple(_permuted(g, perm))
  params = enc.init(jax.random.key(0), a, train=False)
  emb_a, nodes_a = enc.apply(params, a, train=False)
  emb_b, nodes_b = enc.apply(params, b, train=False)
  np.testing.assert_allclose(emb_a, emb_b, rtol=1e-5, atol=1e-5)
  # Node features move with their atoms.
  np.testing.assert_allclose(nodes_a, nodes_b[perm], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer_type", [
    pytest.param("gin", marks=pytest.mark.slow), "gat"])
def test_padding_graphs_change_no_real_graph(layer_type):
  enc = _encoder(layer_type)
  small = _batch(SMILES, n_node=40, n_edge=90)
  large = _batch(SMILES, n_node=101, n_edge=240)
  params = enc.init(jax.random.key(0), small, train=False)
  emb_s, nodes_s = enc.apply(params, small, train=False)
  emb_l, nodes_l = enc.apply(params, large, train=False)
  n = int(np.sum(small.n_node[:-1]))
  np.testing.assert_allclose(emb_s[:3], emb_l[:3], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(nodes_s[:n], nodes_l[:n], rtol=1e-5, atol=1e-6)
  # Without padding at all: the same.
  bare = jraph.batch([molecules.to_graphs_tuple(
      molecules.smiles_to_graph(s)) for s in SMILES])
  emb_b, _ = enc.apply(params, bare, train=False)
  np.testing.assert_allclose(emb_b, emb_s[:3], rtol=1e-5, atol=1e-6)


def _stacked(smiles, max_atoms, max_edges):
  return pipeline.stack([molecules.padded(
      molecules.smiles_to_graph(s), max_atoms=max_atoms,
      max_edges=max_edges) for s in smiles])


# Both in the slow suite; the graph-text model's loss and outputs run in
# the default suite through tests/signal_test.py (GIN) and
# tests/real_data_run_test.py (ChEBI-20).
@pytest.mark.slow
@pytest.mark.parametrize("layer_type", ["gin", "gat"])
def test_graph_text_outputs_and_loss_do_not_depend_on_the_budget(
    layer_type):
  model = graph_text.GraphTextEncoder(
      graph_width=16, graph_layers=2, graph_layer=layer_type, graph_heads=2,
      **TEXT)
  text = jnp.asarray(np.random.default_rng(0).integers(3, 30, (3, 8)))
  tight = _stacked(SMILES, 13, 26)
  loose = _stacked(SMILES, 40, 100)
  params = model.init(jax.random.key(0), tight, text)

  def loss(batch):
    out = model.apply(params, batch, text)
    itc = contrastive.clip_contrastive(
        out["image_embed"], out["text_embed"],
        logit_scale=out["logit_scale"], ids=jnp.arange(3))
    return jnp.mean(itc), out

  (l_t, out_t), (l_l, out_l) = loss(tight), loss(loose)
  np.testing.assert_allclose(l_t, l_l, rtol=1e-5)
  for key in ("image_embed", "text_embed", "fusion_cls", "itm_logits"):
    np.testing.assert_allclose(out_t[key], out_l[key], rtol=1e-4,
                               atol=1e-5)
  assert out_t["image_mask"].sum(1).tolist() == [13, 9, 6]
  np.testing.assert_allclose(out_t["image_tokens"][0, :13],
                             out_l["image_tokens"][0, :13], rtol=1e-4,
                             atol=1e-5)


def test_step_compiles_once_for_batches_of_different_molecules():
  model = graph_text.GraphTextEncoder(graph_width=16, graph_layers=2,
                                      **TEXT)
  text = jnp.zeros((2, 8), jnp.int32)
  traces = []

  @jax.jit
  def step(params, batch):
    traces.append(1)  # runs only while tracing
    grads = jax.grad(lambda p: jnp.sum(
        model.apply(p, batch, text)["image_embed"] ** 2))(params)
    return jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)

  batches = [_stacked(pair, 32, 72) for pair in
             (("C", "CC"), SMILES[:2], ("c1ccc2ccccc2c1", "O=C=O"))]
  params = model.init(jax.random.key(0), batches[0], text)
  for b in batches:
    params = step(params, b)
  assert len(traces) == 1

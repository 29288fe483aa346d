"""The T5 encoder-decoder against transformers (golden files from
tests/fixtures/make_t5_golden.py): teacher-forced logits of T5 v1.0's
layout (ReLU, tied and scaled head) and flan-t5's (gated GELU, its own
head, deeper decoder, logarithmic position buckets) within 1e-4, greedy
outputs token for token, cached decoding equal to recomputing the
decoder, and bad checkpoints refused in one line."""

import json
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.models import decoding
from mmul_jax.models import t5
from mmul_jax.pretrained import t5_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                      "fixtures", "t5_golden")
NAMES = ("t5", "flan")


@pytest.fixture(scope="module")
def golden():
  return dict(np.load(os.path.join(GOLDEN, "outputs.npz")))


@pytest.fixture(scope="module")
def loaded():
  return {n: t5_weights.load(os.path.join(GOLDEN, n)) for n in NAMES}


def test_the_layouts_are_read_from_the_files(loaded):
  plain, flan = loaded["t5"][0].cfg, loaded["flan"][0].cfg
  assert (plain.act, plain.gated, plain.tie_embeddings,
          plain.scale_decoder_outputs) == ("relu", False, True, True)
  assert (flan.act, flan.gated, flan.tie_embeddings,
          flan.scale_decoder_outputs, flan.num_decoder_layers) == (
              "gelu_new", True, False, False, 3)


@pytest.mark.parametrize("name", NAMES)
def test_logits_match_transformers(golden, loaded, name):
  module, params = loaded[name]
  logits = module.apply(params, jnp.asarray(golden["source"], jnp.int32),
                        jnp.asarray(golden["source_mask"], bool),
                        jnp.asarray(golden["target"], jnp.int32))
  want = golden[f"{name}_logits"]
  assert np.abs(np.asarray(logits) - want).max() < 1e-4
  assert np.abs(want).max() > 1.0


@pytest.mark.parametrize("name", NAMES)
def test_greedy_decoding_matches_generate(golden, loaded, name):
  module, params = loaded[name]
  source = jnp.asarray(golden["source"], jnp.int32)
  mask = jnp.asarray(golden["source_mask"], bool)
  n = golden[f"{name}_greedy"].shape[1]
  out, _ = decoding.generate_seq2seq(module, params, source, mask,
                                     max_new_tokens=n)
  np.testing.assert_array_equal(np.asarray(out), golden[f"{name}_greedy"])
  # The same by recomputing the whole decoder input at every step.
  seq = jnp.zeros((2, 1), jnp.int32)
  for _ in range(n):
    logits = module.apply(params, source, mask, seq)[:, -1]
    seq = jnp.concatenate([seq, jnp.argmax(logits, -1)[:, None].astype(
        jnp.int32)], 1)
  np.testing.assert_array_equal(np.asarray(out), np.asarray(seq[:, 1:]))


def test_position_buckets_by_hand():
  rel = jnp.arange(-12, 13)
  got = np.asarray(t5.position_buckets(rel, True, 8, 20))
  # Bidirectional, 8 buckets: 4 per side, 2 exact, then log up to 20.
  want = []
  for r in range(-12, 13):
    side = 4 if r > 0 else 0
    a = abs(r)
    big = 2 + int(np.log(max(a, 1) / 2) / np.log(20 / 2) * 2)
    want.append(side + (a if a < 2 else min(big, 3)))
  assert got.tolist() == want
  causal = np.asarray(t5.position_buckets(jnp.arange(-25, 3), False, 8,
                                          20))
  # Looking back only: 4 exact (0-3 back), then 4 + floor(log(d / 4) /
  # log(5) * 4), at most 7: 12 back -> 6, 20 or more back -> 7.
  assert causal[-3:].tolist() == [0, 0, 0]
  assert causal[25 - 12] == 6 and (causal[:6] == 7).all()


def test_bad_checkpoints_are_one_line(tmp_path):
  from safetensors.numpy import load_file, save_file
  path = tmp_path / "flan"
  shutil.copytree(os.path.join(GOLDEN, "flan"), path)
  file = str(path / "model.safetensors")
  state = load_file(file)
  name = "decoder.block.2.layer.1.EncDecAttention.k.weight"
  save_file({k: v for k, v in state.items() if k != name}, file)
  with pytest.raises(errors.CheckpointError, match="no tensor for 1 "
                     r"parameter.*block_2/layer_1/EncDecAttention/k"):
    t5_weights.load(str(path))
  save_file(state, file)
  config = json.loads((path / "config.json").read_text())
  config["feed_forward_proj"] = "gated-tanh"
  config.pop("dense_act_fn")
  (path / "config.json").write_text(json.dumps(config))
  with pytest.raises(errors.CheckpointError, match="feed_forward_proj "
                     "'gated-tanh'"):
    t5_weights.load(str(path))


def test_remat_changes_no_number(golden, loaded):
  import jax
  module, params = loaded["flan"]
  remat = t5.T5ForConditionalGeneration(module.cfg, remat=True)
  args = (jnp.asarray(golden["source"], jnp.int32),
          jnp.asarray(golden["source_mask"], bool),
          jnp.asarray(golden["target"], jnp.int32))

  def loss(m):
    return lambda p: jnp.mean(m.apply(p, *args) ** 2)

  v1, g1 = jax.value_and_grad(loss(module))(params)
  v2, g2 = jax.value_and_grad(loss(remat))(params)
  np.testing.assert_allclose(float(v1), float(v2), rtol=1e-6)
  for x, y in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5,
                               atol=1e-6)

"""The Llama-layout decoder against transformers (golden files from
tests/fixtures/make_llama_golden.py): logits of Llama (GQA), Llama 3
(rope scaling, tied head), Qwen2 (qkv biases), Mistral (sliding window)
and Phi-3 (fused projections, partial rotary, window) within 1e-4, greedy continuations of left-padded prompts token
for token, cached decoding equal to recomputing the whole sequence, remat
changing no number beyond float32 rounding, and bad checkpoints refused in one line."""

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.models import decoding
from mmul_jax.models import llama
from mmul_jax.pretrained import llama_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                      "fixtures", "llama_golden")
NAMES = ("llama", "llama3", "qwen2", "mistral", "phi3")


@pytest.fixture(scope="module")
def golden():
  return dict(np.load(os.path.join(GOLDEN, "outputs.npz")))


@pytest.fixture(scope="module")
def loaded():
  return {n: llama_weights.load(os.path.join(GOLDEN, n)) for n in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_logits_match_transformers(golden, loaded, name):
  module, params = loaded[name]
  mask = golden["mask"].astype(bool)
  logits = module.apply(params, jnp.asarray(golden["tokens"]),
                        jnp.asarray(mask))
  want = golden[f"{name}_logits"]
  diff = np.abs(np.asarray(logits) - want)[mask]  # padded rows: garbage
  assert diff.max() < 1e-4, diff.max()
  assert np.abs(want[mask]).max() > 1.0  # large enough to mean something


@pytest.mark.parametrize("name", NAMES)
def test_greedy_decoding_matches_generate(golden, loaded, name):
  module, params = loaded[name]
  out, lengths = decoding.generate(
      module, params, jnp.asarray(golden["prompts"], jnp.int32),
      jnp.asarray(golden["prompt_mask"], bool),
      max_new_tokens=golden[f"{name}_greedy"].shape[1])
  np.testing.assert_array_equal(np.asarray(out), golden[f"{name}_greedy"])
  assert np.asarray(lengths).tolist() == [out.shape[1]] * 2


def _recompute(module, params, prompt, mask, steps):
  """Greedy decoding by running the whole sequence again at every step,
  with each step's logits."""
  seq, msk, picked = prompt, mask, []
  for _ in range(steps):
    logits = module.apply(params, seq, msk)[:, -1]
    picked.append(logits)
    token = jnp.argmax(logits, -1)[:, None].astype(jnp.int32)
    seq = jnp.concatenate([seq, token], 1)
    msk = jnp.concatenate([msk, jnp.ones_like(token, bool)], 1)
  return seq[:, prompt.shape[1]:], jnp.stack(picked, 1)


@pytest.mark.parametrize("name", ["llama", "mistral", "phi3"])
def test_cached_decoding_equals_recomputation(golden, loaded, name):
  module, params = loaded[name]
  prompt = jnp.asarray(golden["prompts"], jnp.int32)
  mask = jnp.asarray(golden["prompt_mask"], bool)
  steps = 9  # past Mistral's window of 4
  want, _ = _recompute(module, params, prompt, mask, steps)
  got, _ = decoding.generate(module, params, prompt, mask,
                             max_new_tokens=steps)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_stop_tokens_sampling_and_padding(golden, loaded):
  module, params = loaded["llama"]
  prompt = jnp.asarray(golden["prompts"], jnp.int32)
  mask = jnp.asarray(golden["prompt_mask"], bool)
  greedy = golden["llama_greedy"]
  stop = int(greedy[0, 2])
  out, lengths = decoding.generate(module, params, prompt, mask,
                                   max_new_tokens=7, stop_ids=(stop,),
                                   pad_id=-1)
  first = int(np.flatnonzero(greedy[0] == stop)[0])
  assert int(lengths[0]) == first + 1
  assert (np.asarray(out[0, first + 1:]) == -1).all()
  key = jax.random.PRNGKey(3)
  a, _ = decoding.generate(module, params, prompt, mask, key,
                           max_new_tokens=7, temperature=1.0, top_k=5)
  b, _ = decoding.generate(module, params, prompt, mask, key,
                           max_new_tokens=7, temperature=1.0, top_k=5)
  c, _ = decoding.generate(module, params, prompt, mask,
                           jax.random.PRNGKey(4), max_new_tokens=7,
                           temperature=1.0, top_k=5)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_remat_changes_no_number(golden, loaded):
  module, params = loaded["llama"]
  remat = llama.LlamaForCausalLM(module.cfg, remat=True)
  tokens = jnp.asarray(golden["tokens"])
  mask = jnp.asarray(golden["mask"], bool)

  def loss(m):
    return lambda p: jnp.mean(m.apply(p, tokens, mask) ** 2)

  v1, g1 = jax.value_and_grad(loss(module))(params)
  v2, g2 = jax.value_and_grad(loss(remat))(params)
  # The same arithmetic, fused differently by XLA: float32 rounding apart.
  np.testing.assert_allclose(float(v1), float(v2), rtol=1e-6)
  for x, y in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5,
                               atol=1e-6)


def _copy(tmp_path, name="llama"):
  path = tmp_path / name
  shutil.copytree(os.path.join(GOLDEN, name), path)
  return path


def test_bad_checkpoints_are_one_line(tmp_path):
  from safetensors.numpy import load_file, save_file
  path = _copy(tmp_path)
  state = load_file(str(path / "model.safetensors"))
  name = "model.layers.1.mlp.up_proj.weight"
  save_file({k: v for k, v in state.items() if k != name},
            str(path / "model.safetensors"))
  with pytest.raises(errors.CheckpointError, match="no tensor for 1 "
                     r"parameter.*layers_1/mlp/up_proj/kernel"):
    llama_weights.load(str(path))
  save_file({**state, name: state[name][:, :-1]},
            str(path / "model.safetensors"))
  with pytest.raises(errors.CheckpointError, match=f"tensor '{name}' has "
                     r"shape \(48, 31\)"):
    llama_weights.load(str(path))
  config = json.loads((path / "config.json").read_text())
  config["rope_parameters"] = {"rope_type": "yarn", "rope_theta": 1.0,
                               "factor": 2.0}
  (path / "config.json").write_text(json.dumps(config))
  with pytest.raises(errors.CheckpointError, match="rope scaling 'yarn' "
                     "is not supported"):
    llama_weights.load(str(path))
  config["architectures"] = ["GPT2LMHeadModel"]
  (path / "config.json").write_text(json.dumps(config))
  with pytest.raises(errors.CheckpointError,
                     match="holds .*GPT2LMHeadModel.*, not LlamaForCausalLM"):
    llama_weights.load(str(path))


def _word_tokenizer(vocab_size, end):
  """A whitespace tokenizer over "w0" ... "w<V-1>" (id i is "w<i>"), with
  "w<end>" as its end-of-text token."""
  import tokenizers
  from tokenizers import models as tok_models
  from tokenizers import pre_tokenizers
  vocab = {f"w{i}": i for i in range(vocab_size)}
  vocab["</s>"] = vocab.pop(f"w{end}")  # the end of text at id `end`
  tok = tokenizers.Tokenizer(tok_models.WordLevel(vocab, unk_token="w0"))
  tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
  tok.add_special_tokens(["</s>"])
  return tok


def test_generate_text_from_strings(golden, loaded):
  module, params = loaded["llama"]
  greedy = golden["llama_greedy"]
  end = int(greedy[0, 4])  # a token of the first continuation: it stops
  tok = _word_tokenizer(module.cfg.vocab_size, end)
  prompts = [" ".join(tok.id_to_token(int(t)) for t, m in zip(row, keep)
                      if m)
             for row, keep in zip(golden["prompts"], golden["prompt_mask"])]
  texts = decoding.generate_text(module, params, tok, prompts,
                                 max_new_tokens=greedy.shape[1])
  for text, row in zip(texts, greedy):
    cut = list(row[:int(np.flatnonzero(row == end)[0])]) if end in row \
        else list(row)
    assert text == " ".join(f"w{t}" for t in cut)
  first_stop = int(np.flatnonzero(greedy[0] == end)[0])
  assert len(texts[0].split()) == first_stop < greedy.shape[1]  # stopped

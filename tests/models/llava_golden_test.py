"""LLaVA with CLIP's vision tower against transformers'
`LlavaForConditionalGeneration` (golden files from
tests/fixtures/make_llava_golden.py): logits with the image tokens in
place of the placeholders within 1e-4 (LLaVA-1.5's penultimate layer
without [CLS], and the last layer with it), text-only logits, greedy
continuations of left-padded prompts with images token for token, cached
decoding equal to recomputation; both file layouts import alike; bad
checkpoints are refused in one line."""

import dataclasses
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy

from mmul_jax import errors
from mmul_jax.models import decoding
from mmul_jax.pretrained import llava_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                      "fixtures", "llava_golden")
NAMES = ("llava", "full")


@pytest.fixture(scope="module")
def golden():
  return dict(np.load(os.path.join(GOLDEN, "outputs.npz")))


@pytest.fixture(scope="module")
def loaded():
  return {n: llava_weights.load(os.path.join(GOLDEN, n)) for n in NAMES}


def _logits(module, params, golden, name):
  return np.asarray(module.apply(
      params, jnp.asarray(golden[f"{name}_tokens"], jnp.int32), None, None,
      jnp.asarray(golden["images"]), None))


@pytest.mark.parametrize("name", NAMES)
def test_logits_match_transformers(golden, loaded, name):
  module, params = loaded[name]
  assert module.vision == "clip" and module.image_token_id == 63
  assert module.num_image_tokens == (17 if name == "full" else 16)
  assert module.num_prefix_tokens == 0
  want = golden[f"{name}_logits"]
  assert np.abs(_logits(module, params, golden, name) - want).max() < 1e-4
  assert np.abs(want).max() > 1.0
  text = module.apply(params, jnp.asarray(golden["text"], jnp.int32))
  np.testing.assert_allclose(np.asarray(text), golden[f"{name}_text_logits"],
                             atol=1e-4)


def test_the_feature_layer_and_the_image_matter(golden, loaded):
  """A model reading another layer, or another image, is far off: the
  test can tell."""
  module, params = loaded["llava"]
  want = golden["llava_logits"]
  other = dataclasses.replace(module, feature_layer=-1)
  assert np.abs(_logits(other, params, golden, "llava") - want).max() > 1e-2
  swapped = {**golden, "images": golden["images"][::-1]}
  assert np.abs(_logits(module, params, swapped, "llava")
                - want).max() > 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_greedy_decoding_matches_generate(golden, loaded, name):
  module, params = loaded[name]
  want = golden[f"{name}_greedy"]
  out, _ = decoding.generate(
      module, params, jnp.asarray(golden[f"{name}_prompts"], jnp.int32),
      jnp.asarray(golden[f"{name}_prompt_mask"], bool),
      max_new_tokens=want.shape[1], images=jnp.asarray(golden["images"]),
      image_mask=jnp.ones((2,), bool))
  np.testing.assert_array_equal(np.asarray(out), want)


def test_cached_decoding_equals_recomputation(golden, loaded):
  module, params = loaded["llava"]
  seq = jnp.asarray(golden["llava_prompts"], jnp.int32)
  mask = jnp.asarray(golden["llava_prompt_mask"], bool)
  images = jnp.asarray(golden["images"])
  got, _ = decoding.generate(module, params, seq, mask, images=images,
                             image_mask=jnp.ones((2,), bool),
                             max_new_tokens=3)
  p = seq.shape[1]
  for _ in range(3):
    logits = module.apply(params, seq, mask, None, images, None)
    nxt = jnp.argmax(logits[:, -1], -1).astype(jnp.int32)[:, None]
    seq = jnp.concatenate([seq, nxt], 1)
    mask = jnp.concatenate([mask, jnp.ones((2, 1), bool)], 1)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(seq[:, p:]))


def _copy(tmp_path, rename=None, config=None):
  out = tmp_path / "ckpt"
  shutil.copytree(os.path.join(GOLDEN, "llava"), out)
  if rename:
    state = safetensors.numpy.load_file(str(out / "model.safetensors"))
    state = {rename(k): v for k, v in state.items()}
    safetensors.numpy.save_file(state, str(out / "model.safetensors"))
  if config:
    c = json.loads((out / "config.json").read_text())
    config(c)
    (out / "config.json").write_text(json.dumps(c))
  return str(out)


@pytest.mark.parametrize("rename", [
    lambda k: k.replace("vision_tower.", "vision_tower.vision_model."),
    lambda k: ("lm_head.weight" if k == "language_model.lm_head.weight" else
               k.replace("language_model.model.", "model.language_model.")
               .replace("vision_tower.", "model.vision_tower.")
               .replace("multi_modal_projector.",
                        "model.multi_modal_projector."))])
def test_every_file_layout_imports_alike(tmp_path, loaded, rename):
  """transformers 4's files (`vision_tower.vision_model.*`) and the
  in-memory names (`model.*`, `lm_head`) give the same parameters."""
  _, want = loaded["llava"]
  _, got = llava_weights.load(_copy(tmp_path, rename=rename))
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["vision_config"].update(model_type="siglip_vision_model"),
     "siglip_vision_model vision tower is not supported"),
    (lambda c: c.update(vision_feature_layer=[-2, -1]), "several layers"),
    (lambda c: c.update(projector_hidden_act="relu"), "projector activation"),
    (lambda c: c.update(architectures=["LlamaForCausalLM"]),
     "not LlavaForConditionalGeneration"),
    (lambda c: c["text_config"].update(model_type="gemma"),
     "gemma language model is not supported"),
])
def test_unsupported_configs_are_refused(tmp_path, edit, match):
  with pytest.raises(errors.CheckpointError, match=match):
    llava_weights.load(_copy(tmp_path, config=edit))


def test_a_partial_config_gets_transformers_defaults(tmp_path):
  """LLaVA-1.5's config.json lists only what differs from the defaults:
  a vision config without its activation and epsilon reads CLIP's."""
  def edit(c):
    for k in ("hidden_act", "layer_norm_eps"):
      c["vision_config"].pop(k, None)
  sizes = llava_weights.model_config(_copy(tmp_path, config=edit))
  assert sizes["vision_act"] == "quick_gelu" and sizes["vision_eps"] == 1e-5
  assert sizes["cfg"].hidden_size == 32


def test_a_missing_tensor_is_named(tmp_path):
  path = _copy(tmp_path, rename=lambda k: k.replace(
      "multi_modal_projector.linear_2", "projector_two"))
  with pytest.raises(errors.CheckpointError, match="projector_two"):
    llava_weights.load(path)

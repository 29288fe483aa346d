"""LLaVA's first stage: a Llama-layout language model
(`model.pretrained`) joined by the vision tower of a CLIP or BLIP
checkpoint (`model.vision_pretrained`) and a fresh projector. CLIP's
tower (`models.clip_vision`) reproduces transformers' `CLIPModel` image
embeddings; every imported tensor lands where the checkpoint has it; a
config that cannot work is refused before any compute."""

import os

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import models
from mmul_jax.models import clip_vision
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import llama_weights
from mmul_jax.pretrained import llava_weights

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                        "fixtures")
LLAMA = os.path.join(FIXTURES, "llama_lm")
CLIP = os.path.join(FIXTURES, "clip_golden", "hf")
BLIP = os.path.join(FIXTURES, "blip_caption_golden", "model")


def _composed(vision_path):
  cfg = {"arch": "llava", "pretrained": LLAMA,
         "vision_pretrained": vision_path}
  model = models.build(cfg, image_generation=True)
  s = model.image_size
  params = model.init(jax.random.key(0), jnp.zeros((1, 3), jnp.int32),
                      jnp.ones((1, 3), bool), None, jnp.zeros((1, s, s, 3)),
                      jnp.ones((1,), bool))
  return model, params, llava_weights.load_towers(LLAMA, params, cfg)


def test_clip_s_tower_reproduces_transformers_image_embeddings():
  golden = np.load(os.path.join(FIXTURES, "clip_golden", "outputs.npz"))
  state = clip_weights.read_state_dict(CLIP)
  sizes = llava_weights.vision_sizes(CLIP)
  tower = clip_vision.ClipVision(
      sizes["image_size"], sizes["patch_size"], sizes["vision_width"],
      sizes["vision_layers"], sizes["vision_heads"], sizes["vision_mlp_dim"],
      sizes["vision_act"], sizes["vision_eps"])
  model, _, params = _composed(CLIP)
  vision = {"params": params["params"]["vision_tower"]}
  states, pooled = tower.apply(vision, jnp.asarray(golden["images"]))
  assert len(states) == sizes["vision_layers"] + 1
  embed = np.asarray(pooled) @ state["visual_projection.weight"].T
  embed /= np.linalg.norm(embed, axis=-1, keepdims=True)
  np.testing.assert_allclose(embed, golden["image_embeds"], atol=1e-4)
  # The model reads the penultimate layer (LLaVA's), not the last.
  feats = model.apply(params, jnp.asarray(golden["images"]),
                      method=model.encode_image)
  np.testing.assert_array_equal(np.asarray(feats), np.asarray(states[-2]))


@pytest.mark.parametrize("vision_path, tower", [(CLIP, "clip"),
                                                (BLIP, "blip")])
def test_each_part_comes_from_its_checkpoint(vision_path, tower):
  model, init, params = _composed(vision_path)
  assert model.vision == tower and model.num_prefix_tokens == 16
  _, llama = llama_weights.load(LLAMA)
  got = jax.tree.leaves(params["params"]["language_model"])
  for a, b in zip(got, jax.tree.leaves(llama["params"])):
    np.testing.assert_array_equal(a, b)
  state = clip_weights.read_state_dict(vision_path)
  flat = flax.traverse_util.flatten_dict(params["params"]["vision_tower"],
                                         sep=".")
  kernel = flat["encoder.layers_0.mlp.fc1.kernel"]
  np.testing.assert_array_equal(
      kernel, state["vision_model.encoder.layers.0.mlp.fc1.weight"].T)
  for a, b in zip(jax.tree.leaves(params["params"]["multi_modal_projector"]),
                  jax.tree.leaves(init["params"]["multi_modal_projector"])):
    np.testing.assert_array_equal(a, b)  # fresh: LLaVA's first stage


def _model_config(**kw):
  c = config_schema.default_config()
  c.model.arch = "llava"
  c.model.update(kw)
  return c


def test_a_vision_checkpoint_beside_a_whole_llava_is_refused():
  c = _model_config(vision_pretrained=CLIP)
  with pytest.raises(errors.ConfigError, match="whole LLaVA model"):
    llava_weights.check_model_config(os.path.join(FIXTURES, "llava_lm"),
                                     c.model)


def test_the_vision_checkpoint_s_sizes_are_checked():
  keys = llava_weights.model_keys(LLAMA, CLIP)
  assert keys["image_size"] == 32 and keys["patch_size"] == 8
  c = _model_config(vision_pretrained=CLIP, **{**keys, "image_size": 64})
  with pytest.raises(errors.ConfigError, match="model.image_size = 64 but "
                     "the checkpoint has 32"):
    llava_weights.check_model_config(LLAMA, c.model)


def test_a_vision_checkpoint_needs_a_language_model():
  c = _model_config(vision_pretrained=CLIP)
  c.data.name = "persons"
  with pytest.raises(errors.ConfigError, match="model.vision_pretrained "
                     "joins"):
    config_schema.validate(c)

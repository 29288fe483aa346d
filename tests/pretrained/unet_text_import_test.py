"""A CLIP checkpoint's text tower as the text-to-image UNet's caption
encoder (`pretrained.unet_text_weights`), without torch: on the committed
tiny random `transformers.CLIPModel` (tests/fixtures/clip_golden) the
UNet's imported tower gives the text embeddings transformers computed,
in both file layouts; the UNet's own weights stay fresh; a text config
that differs from the checkpoint's is named before any compute."""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import models
from mmul_jax import pretrained
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.pretrained import unet_text_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "clip_golden")


def _config(directory):
  c = config_schema.default_config().model
  c.update(arch="unet", image_size=8, unet_channels=(8,),
           unet_attention_levels=(), unet_heads=2, text_heads=4,
           pretrained=directory, vision_layers=1)  # unused by the UNet
  c.update(unet_text_weights.model_config(directory))
  return ml_collections.ConfigDict(c)


@pytest.mark.parametrize("layout", ["hf", "openai"])
def test_unet_text_tower_matches_transformers(layout):
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  directory = os.path.join(GOLDEN, layout)
  cfg = _config(directory)
  pretrained.check_model_config(directory, cfg)
  tok = tokenizer_lib.from_checkpoint(directory, cfg.context_length)
  ids = tokenizer_lib.encode(tok, [str(t) for t in golden["texts"]])
  model = models.build(cfg, text_to_image=True)
  x = jnp.zeros((1, 8, 8, 3))
  fresh = model.init(jax.random.key(0), x, jnp.zeros((1,), jnp.int32),
                     jnp.asarray(ids[:1]), jnp.zeros((1,), bool))
  params = pretrained.load_towers(directory, jax.tree.map(np.asarray, fresh),
                                  cfg)
  embed, _, _ = model.apply(params, jnp.asarray(ids),
                            method=lambda m, t: m.txt(t, train=False))
  embed = np.asarray(embed, np.float64)
  embed = embed / np.linalg.norm(embed, axis=-1, keepdims=True)
  np.testing.assert_allclose(embed, golden["text_embeds"], rtol=1e-4,
                             atol=1e-4)
  # The UNet and its null context are not in the checkpoint: unchanged.
  for name in ("unet", "null_context"):
    jax.tree.map(np.testing.assert_array_equal, params["params"][name],
                 jax.tree.map(np.asarray, fresh["params"][name]))


def test_a_text_config_unlike_the_checkpoint_is_named():
  directory = os.path.join(GOLDEN, "hf")
  cfg = _config(directory)
  cfg.text_layers = 3
  with pytest.raises(errors.ConfigError, match="model.text_layers = 3"):
    pretrained.check_model_config(directory, cfg)


@pytest.mark.slow
def test_a_text_to_image_run_starts_from_a_clip_text_tower(
    tmp_path, tiny_config, data_dir):
  from mmul_jax.unlearn import run as run_lib
  c = tiny_config.copy_and_resolve_references()
  c.data.update(data_dir=data_dir, name="shapes_t2i", num_train=40,
                num_test=10, image_size=16, mean=(0.5,) * 3, std=(0.5,) * 3)
  directory = os.path.join(GOLDEN, "hf")
  c.model.update(arch="unet", image_size=16, unet_channels=(8,),
                 unet_attention_levels=(), unet_heads=2, diffusion_steps=50,
                 pretrained=directory, text_heads=4)
  c.model.update(unet_text_weights.model_config(directory))
  c.eval.update(sample_steps=3, num_generated=8, judges=False)
  c.method.name = "finetune"
  results = run_lib.run(c, str(tmp_path))
  assert np.isfinite(results.models["finetune"].metrics["df/denoise_loss"])

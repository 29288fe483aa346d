"""CLIP import parity without torch: a random tiny `transformers.CLIPModel`
committed in both layouts (tests/fixtures/clip_golden, written by
tests/fixtures/make_clip_golden.py) must give, through our importer,
tokenizer and towers, the embeddings transformers computed, to 1e-4."""

import os

import jax
import ml_collections
import numpy as np
import pytest

from mmul_jax import models
from mmul_jax import pretrained
from mmul_jax.data.core import tokenizer as tokenizer_lib

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "clip_golden")
# Attention heads leave no trace in OpenAI files' shapes: given here.
HEADS = dict(vision_heads=4, text_heads=4)


def _config(directory):
  arch = {**HEADS, **pretrained.model_config(directory)}
  return ml_collections.ConfigDict(dict(
      arch, fusion_width=32, fusion_layers=1, fusion_heads=4,
      pretrained=directory))


@pytest.mark.parametrize("layout", ["hf", "openai"])
def test_import_matches_transformers(layout):
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  directory = os.path.join(GOLDEN, layout)
  cfg = _config(directory)
  pretrained.check_model_config(directory, cfg)
  tok = tokenizer_lib.from_checkpoint(directory, cfg.context_length)
  ids = tokenizer_lib.encode(tok, [str(t) for t in golden["texts"]])
  np.testing.assert_array_equal(ids, golden["ids"])
  model = models.build(cfg)
  params = model.init(jax.random.key(0), golden["images"][:1], ids[:1])
  params = pretrained.load_towers(directory, jax.tree.map(np.asarray, params),
                                  cfg)
  out = model.apply(params, golden["images"], ids)
  np.testing.assert_allclose(out["image_embed"], golden["image_embeds"],
                             rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(out["text_embed"], golden["text_embeds"],
                             rtol=1e-4, atol=1e-4)
  logits = np.exp(out["logit_scale"]) * (
      out["image_embed"] @ out["text_embed"].T)
  np.testing.assert_allclose(logits, golden["logits_per_image"], rtol=1e-4,
                             atol=2e-3)


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 1_000_000, total

"""BLIP's captioning model (`models.blip_caption`) against transformers'
`BlipForConditionalGeneration` on a random tiny configuration (golden
file from tests/fixtures/make_blip_caption_golden.py): every tensor
imports by name, and the next-token logits of a full and a right-padded
text match within 1e-4."""

import os

import numpy as np

from mmul_jax.pretrained import blip_caption_weights

HERE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                    "blip_caption_golden")


def test_blip_captioning_logits_match_transformers():
  gold = np.load(os.path.join(HERE, "outputs.npz"))
  module, params = blip_caption_weights.load(os.path.join(HERE, "model"))
  images = np.transpose(gold["pixel_values"], (0, 2, 3, 1))  # NCHW -> NHWC
  mask = gold["attention_mask"].astype(bool)
  logits = np.asarray(module.apply(params, images,
                                   gold["input_ids"].astype(np.int32), mask))
  want = gold["logits"]
  # Padding positions are never read by a real token: compare real ones.
  err = np.max(np.abs(logits - want)[mask])
  assert err < 1e-4, err
  assert logits.shape == want.shape

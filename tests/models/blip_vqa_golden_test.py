"""BLIP's VQA model (`models.blip_vqa`) against transformers'
`BlipForQuestionAnswering` on a random tiny configuration (golden file
from tests/fixtures/make_blip_vqa_golden.py): every tensor imports by
name; for a full and a right-padded question and answer, the answer's
next-token logits match transformers' within 1e-4, both with the question
mask in the answer's cross-attention (BLIP's training, and what
`__call__` does) and without it (what transformers 5.23's `forward`
computes, having dropped the mask); `encode` then `decode` give
`__call__`'s logits."""

import os

import numpy as np

from mmul_jax.pretrained import blip_vqa_weights

HERE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                    "blip_vqa_golden")


def _load():
  gold = np.load(os.path.join(HERE, "outputs.npz"))
  module, params = blip_vqa_weights.load(os.path.join(HERE, "model"))
  images = np.transpose(gold["pixel_values"], (0, 2, 3, 1))  # NCHW -> NHWC
  inputs = (images, gold["input_ids"].astype(np.int32),
            gold["attention_mask"].astype(bool),
            gold["decoder_input_ids"].astype(np.int32),
            gold["decoder_attention_mask"].astype(bool))
  return gold, module, params, inputs


def _error(logits, want, answer_mask):
  assert logits.shape == want.shape
  # Padding positions are never read by a real token: compare real ones.
  return np.max(np.abs(np.asarray(logits) - want)[answer_mask])


def test_blip_vqa_logits_match_transformers():
  gold, module, params, inputs = _load()
  logits = module.apply(params, *inputs)
  # Measured: 3.5e-6; 3.0 without the causal mask, 0.76 without the
  # question mask in the answer's cross-attention, 1.9 without it anywhere.
  err = _error(logits, gold["masked_logits"], inputs[4])
  assert err < 1e-4, err


def test_blip_vqa_unmasked_question_matches_transformers_forward():
  gold, module, params, inputs = _load()
  images, question, question_mask, answer, answer_mask = inputs
  states = module.apply(params, images, question, question_mask,
                        method=module.encode)
  logits = module.apply(params, states, np.ones_like(question_mask), answer,
                        answer_mask, method=module.decode)
  # Measured: 2.6e-6; 2.3 without the causal mask, 2.0 without the
  # question mask in its encoder too.
  err = _error(logits, gold["logits"], answer_mask)
  assert err < 1e-4, err


def test_blip_vqa_encode_then_decode_is_call():
  _, module, params, inputs = _load()
  images, question, question_mask, answer, answer_mask = inputs
  states = module.apply(params, images, question, question_mask,
                        method=module.encode)
  logits = module.apply(params, states, question_mask, answer, answer_mask,
                        method=module.decode)
  np.testing.assert_allclose(logits, module.apply(params, *inputs),
                             atol=1e-6)

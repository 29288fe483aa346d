"""BLIP's visual-question-answering model (`BlipForQuestionAnswering`'s
layout): the ViT image encoder of `models.blip`, a BERT text encoder that
reads the question bidirectionally and cross-attends to every image token,
and `blip_caption`'s text decoder, which generates the answer causally
while cross-attending to the question's states (its padding masked).

Parameters carry Hugging Face's names (`vision_model`, `text_encoder`,
`text_decoder/bert/...`, `text_decoder/cls/predictions/...`), so a
checkpoint imports by name (`pretrained.blip_vqa_weights`); parity with
transformers is in tests/models/blip_vqa_golden_test.py.

Token ids are used as given, as transformers' `forward` does: the question
as its processor tokenises it ([CLS] first), the answer from the decoder's
start token (`text_config.bos_token_id`, [DEC]). The answer reads the
question's padding in BLIP's `generate`, and in transformers 5.23 also in
`forward`, which drops the cross-attention mask; `decode` with an all-ones
`question_mask` computes that.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mmul_jax.models import blip
from mmul_jax.models import blip_caption


class BlipVqa(nn.Module):
  """`BlipForQuestionAnswering`: `__call__` gives the next-token logits
  `(B, T, V)` (float32) of the answer; `encode` and `decode` split it so a
  decoding loop encodes the image and question once."""

  image_size: int
  patch_size: int
  vision_width: int
  vision_layers: int
  vision_heads: int
  vision_mlp_dim: int
  vocab_size: int
  max_positions: int
  text_width: int
  text_layers: int
  text_heads: int
  text_mlp_dim: int
  vision_eps: float = 1e-5
  text_eps: float = 1e-12
  dtype: Any = jnp.float32

  def setup(self):
    self.vision_model = blip.BlipVision(
        self.image_size, self.patch_size, self.vision_width,
        self.vision_layers, self.vision_heads, self.vision_mlp_dim,
        self.vision_eps, self.dtype)
    text = (self.vocab_size, self.max_positions, self.text_width,
            self.text_layers, self.text_heads, self.text_mlp_dim,
            self.text_eps, self.dtype)
    self.text_encoder = blip.BlipText(*text)
    self.text_decoder = blip_caption.TextDecoder(*text)

  def encode(self, images: jax.Array, question_ids: jax.Array,
             question_mask: jax.Array) -> jax.Array:
    """The question's states `(B, Tq, text_width)`, which read every image
    token; `images` float `(B, H, W, 3)`, already normalised."""
    image_tokens = self.vision_model(images)
    return self.text_encoder(
        self.text_encoder.embed(question_ids), question_mask.astype(bool),
        image_tokens, jnp.ones(image_tokens.shape[:2], bool))

  def decode(self, states: jax.Array, question_mask: jax.Array,
             answer_ids: jax.Array,
             answer_mask: jax.Array | None = None) -> jax.Array:
    """The answer's next-token logits given the question's `states`."""
    if answer_mask is None:
      answer_mask = jnp.ones(answer_ids.shape, bool)
    return self.text_decoder(answer_ids, answer_mask.astype(bool), states,
                             question_mask.astype(bool))

  def __call__(self, images: jax.Array, question_ids: jax.Array,
               question_mask: jax.Array, answer_ids: jax.Array,
               answer_mask: jax.Array | None = None, *,
               train: bool = False) -> jax.Array:
    del train  # no dropout
    states = self.encode(images, question_ids, question_mask)
    return self.decode(states, question_mask, answer_ids, answer_mask)

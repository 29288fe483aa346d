"""How the generation task (`tasks.generation`) runs each language-model
layout on a question-answer batch (`data.core.qa`): what the model reads, which of
its logits score the answer's tokens, and how it answers a prompt.

* decoder-only (`model.arch = "llama"`): `[prompt, answer]` with their
  masks; the logits at the prompt's last position and the answer's
  positions but its last predict the answer's tokens; greedy answers
  from `models.decoding.generate` with the key-value cache.
* image-conditioned decoder-only (`model.arch = "llava"`): the same, the
  batch's `image` and `image_mask` read before the prompt
  (`models.llava`).
* encoder-decoder (`model.arch = "t5"`): the prompt is encoded, the
  decoder reads the answer shifted right behind the decoder's start
  token, and its logits are aligned with the answer; greedy answers from
  `models.decoding.generate_seq2seq`. Its hidden states are not exposed
  (RMU and the `hidden` retain loss need a decoder-only model).
"""

from __future__ import annotations

import jax.numpy as jnp

from mmul_jax.models import decoding
from mmul_jax.models import llava
from mmul_jax.models import t5


class DecoderOnly:
  """`[prompt, answer]` through one stack."""

  hidden_states = True

  def inputs(self, batch, answer: str = "answer") -> tuple:
    return (jnp.concatenate([batch["prompt"], batch[answer]], 1),
            jnp.concatenate([batch["prompt_mask"], batch[f"{answer}_mask"]],
                            1))

  def answer_logits(self, logits, batch, answer: str = "answer"):
    """`(B, A, V)`: the logits that predict each answer token."""
    p, a = batch["prompt"].shape[1], batch[answer].shape[1]
    return logits[:, p - 1:p + a - 1]

  def states_mask(self, batch, answer: str = "answer"):
    """Which positions of the states are real tokens."""
    return self.inputs(batch, answer)[1]

  def generate(self, model, params, prompt, mask, **kwargs):
    return decoding.generate(model, params, prompt, mask, **kwargs)


class ImageDecoderOnly(DecoderOnly):
  """`[image tokens, prompt, answer]`: the prompt and answer as
  `DecoderOnly`'s, after the row's image where it has one (`generate`
  takes `images` and `image_mask`)."""

  def inputs(self, batch, answer: str = "answer") -> tuple:
    return (*super().inputs(batch, answer), None, batch["image"],
            batch["image_mask"])


class EncoderDecoder:
  """The prompt encoded, the answer decoded behind the start token."""

  hidden_states = False

  def __init__(self, start_id: int):
    self.start_id = start_id

  def inputs(self, batch, answer: str = "answer") -> tuple:
    tokens, mask = batch[answer], batch[f"{answer}_mask"]
    b = tokens.shape[0]
    start = jnp.full((b, 1), self.start_id, tokens.dtype)
    return (batch["prompt"], batch["prompt_mask"],
            jnp.concatenate([start, tokens[:, :-1]], 1),
            jnp.concatenate([jnp.ones((b, 1), bool), mask[:, :-1]], 1))

  def answer_logits(self, logits, batch, answer: str = "answer"):
    del batch, answer  # already aligned with the answer
    return logits

  def generate(self, model, params, prompt, mask, **kwargs):
    return decoding.generate_seq2seq(model, params, prompt, mask, **kwargs)


def for_model(model) -> DecoderOnly | EncoderDecoder:
  """The layout of a built language model."""
  if isinstance(model, t5.T5ForConditionalGeneration):
    return EncoderDecoder(model.cfg.decoder_start_id)
  if isinstance(model, llava.VisionLanguageModel):
    return ImageDecoderOnly()
  return DecoderOnly()

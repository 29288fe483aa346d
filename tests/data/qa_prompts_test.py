"""Prompts written by `data.prompt_template` (`data.core.qa`): the
question in its place, a LLaVA checkpoint's image placeholders exactly in
the rows with an image, and templates or lengths that cannot work refused
with what to do."""

import os

import pytest
import tokenizers

from mmul_jax import errors
from mmul_jax.data.core import qa

TOKENIZER = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                         "fixtures", "llava_lm", "tokenizer.json")


@pytest.fixture(scope="module")
def tok():
  return tokenizers.Tokenizer.from_file(TOKENIZER)


def _encoder(tok, length=12, template="{image} who is {question}", n=3):
  return qa.Encoder(tok, prompt_length=length, answer_length=6,
                    template=template, image_token="<image>",
                    image_tokens=n)


def test_placeholders_only_in_rows_with_an_image(tok):
  e = _encoder(tok)
  image = tok.token_to_id("<image>")
  prompt, mask = e.prompts(["this", "this"], [True, False])
  assert (prompt[0] == image).sum() == 3 and (prompt[1] == image).sum() == 0
  # The same question after the placeholders; left padding before both.
  words = lambda row, m: [t for t, ok in zip(row, m) if ok and t != image]
  assert words(prompt[0], mask[0]) == words(prompt[1], mask[1])
  assert mask[0].sum() == mask[1].sum() + 3 and mask[:, -1].all()


def test_a_template_wraps_text_only_prompts(tok):
  plain = qa.Encoder(tok, prompt_length=8, answer_length=6)
  wrapped = qa.Encoder(tok, prompt_length=8, answer_length=6,
                       template="who is {question}")
  a, _ = plain.prompts(["this"])
  b, _ = wrapped.prompts(["this"])
  assert tok.token_to_id("who") in b[0] and tok.token_to_id("who") not in a[0]


@pytest.mark.parametrize("template, n, match", [
    ("{question}", 3, "has no {image}"),
    ("{image} {question}", 0, "places no image tokens"),
    ("{image}", 3, "must hold {question}"),
    ("{question} {answer}", 0, "no other field"),
    ("{question", 0, "not a format string")])
def test_templates_that_cannot_work_are_refused(tok, template, n, match):
  with pytest.raises(errors.ConfigError, match=match):
    _encoder(tok, template=template, n=n)


def test_a_prompt_length_that_cuts_the_image_is_refused(tok):
  with pytest.raises(errors.ConfigError, match="cannot hold a prompt"):
    _encoder(tok, length=3, template="{image} who is {question}")
  e = _encoder(tok, length=7)  # room for the template, not a long question
  e.prompts(["this"], [True])
  with pytest.raises(errors.DataError, match="cuts a prompt .* image"):
    e.prompts(["this is the person in the picture"], [True])


def test_the_image_token_must_be_the_tokenizer_s(tok):
  with pytest.raises(errors.ConfigError, match="no image token"):
    qa.Encoder(tok, prompt_length=12, answer_length=6,
               template="{image} {question}", image_token="<img>",
               image_tokens=3)

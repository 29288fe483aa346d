"""Tokenizers built on the `tokenizers` library.

The embedded dataset has a closed vocabulary, so its tokenizer is a WordPiece
model over a fixed vocabulary, built in code (no training, so it is the same
everywhere): every caption word is one token and made-up names split into
syllables (`tovika` -> `to ##vi ##ka`). Sequences are `[BOS] ... [EOS]` and
padded with `[PAD]` (id 0) to the model's context length, CLIP-style.
"""

from __future__ import annotations

import numpy as np
import tokenizers
from tokenizers import decoders
from tokenizers import models
from tokenizers import normalizers
from tokenizers import pre_tokenizers
from tokenizers import processors

from mmul_jax.data import shapes

PAD, BOS, EOS, UNK = "[PAD]", "[BOS]", "[EOS]", "[UNK]"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3


def shapes_tokenizer(context_length: int) -> tokenizers.Tokenizer:
  """The tokenizer of the embedded shapes dataset."""
  pieces = list(SPECIAL_TOKENS) + shapes.vocabulary()
  pieces += [s for s in shapes.SYLLABLES if s not in pieces]
  pieces += ["##" + s for s in shapes.SYLLABLES]
  vocab = {p: i for i, p in enumerate(pieces)}
  tok = tokenizers.Tokenizer(models.WordPiece(vocab, unk_token=UNK))
  tok.normalizer = normalizers.Lowercase()
  tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
  tok.post_processor = processors.TemplateProcessing(
      single=f"{BOS} $A {EOS}",
      special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])])
  tok.decoder = decoders.WordPiece()
  tok.enable_truncation(context_length)
  tok.enable_padding(pad_id=vocab[PAD], pad_token=PAD, length=context_length)
  return tok


def eot_id(tok: tokenizers.Tokenizer) -> int:
  return tok.token_to_id(EOS)


def encode(tok: tokenizers.Tokenizer, texts: list[str]) -> np.ndarray:
  """Token ids `(N, context_length)` int32 for a list of strings."""
  return np.asarray([e.ids for e in tok.encode_batch(list(texts))], np.int32)

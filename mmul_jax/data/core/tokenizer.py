"""Tokenizers built on the `tokenizers` library.

A pretrained checkpoint brings its own tokenizer (`from_checkpoint`: the
`tokenizer.json` of a Hugging Face directory, or, for the older uploads
that ship only the slow tokenizer's files (BioBERT, PubMedBERT), the fast
tokenizer built from BERT's `vocab.txt` or RoBERTa's `vocab.json` and
`merges.txt` as transformers converts them), and any saved tokenizer file
can be named (`load`). Otherwise:

* The embedded datasets have a closed vocabulary, so their tokenizer is a
  WordPiece model over a fixed vocabulary, built in code (no training, so it
  is the same everywhere): every caption word is one token and made-up names
  split into syllables (`tovika` -> `to ##vi ##ka`).
* A real dataset's texts get a WordPiece vocabulary trained on its training
  split (`train_wordpiece`; deterministic, so every host trains the same).

Sequences are `[BOS] ... [EOS]` and padded with `[PAD]` (id 0) to the
model's context length, CLIP-style.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import tokenizers
from tokenizers import decoders
from tokenizers import models
from tokenizers import normalizers
from tokenizers import pre_tokenizers
from tokenizers import processors
from tokenizers import trainers

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.data.generated import shapes

PAD, BOS, EOS, UNK = "[PAD]", "[BOS]", "[EOS]", "[UNK]"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3


def shapes_tokenizer(context_length: int,
                     extra_words: tuple[str, ...] = (),
                     words: list[str] | None = None) -> tokenizers.Tokenizer:
  """The tokenizer of the embedded datasets: `words` (default: the shapes
  captions' vocabulary; the molecule dataset passes its own) and the name
  syllables. `extra_words` (the classification tasks' statements) get ids
  after all the others, so the captions' ids do not depend on them."""
  pieces = list(SPECIAL_TOKENS) + list(words or shapes.vocabulary())
  pieces += [s for s in shapes.SYLLABLES if s not in pieces]
  pieces += ["##" + s for s in shapes.SYLLABLES]
  pieces += [w for w in extra_words if w not in pieces]
  vocab = {p: i for i, p in enumerate(pieces)}
  tok = tokenizers.Tokenizer(models.WordPiece(vocab, unk_token=UNK))
  tok.normalizer = normalizers.Lowercase()
  tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
  return _clip_style(tok, context_length)


def train_wordpiece(texts, vocab_size: int,
                    context_length: int) -> tokenizers.Tokenizer:
  """A WordPiece tokenizer of at most `vocab_size` tokens trained on
  `texts` (an iterable of strings): lower-cased, split on whitespace and
  punctuation (so "(2S)-2-aminopropanoic" keeps its parts), with our
  special tokens at ids 0-3 like the embedded tokenizer."""
  tok = tokenizers.Tokenizer(models.WordPiece(unk_token=UNK))
  tok.normalizer = normalizers.Sequence([normalizers.NFKC(),
                                         normalizers.Lowercase()])
  tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  trainer = trainers.WordPieceTrainer(
      vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
      show_progress=False)
  tok.train_from_iterator(texts, trainer)
  return _clip_style(tok, context_length)


def _clip_style(tok: tokenizers.Tokenizer,
                context_length: int) -> tokenizers.Tokenizer:
  """`[BOS] ... [EOS]`, `[PAD]`-padded and truncated to `context_length`."""
  bos, eos, pad = (tok.token_to_id(t) for t in (BOS, EOS, PAD))
  tok.post_processor = processors.TemplateProcessing(
      single=f"{BOS} $A {EOS}", special_tokens=[(BOS, bos), (EOS, eos)])
  tok.decoder = decoders.WordPiece()
  tok.enable_truncation(context_length)
  tok.enable_padding(pad_id=pad, pad_token=PAD, length=context_length)
  return tok


def vocabulary_sha256(tok: tokenizers.Tokenizer) -> str:
  """A digest of the tokens and their ids (what a trained model depends
  on), for checkpoint fingerprints."""
  pairs = sorted(tok.get_vocab(with_added_tokens=True).items(),
                 key=lambda kv: kv[1])
  return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


# End-of-text tokens: ours, then CLIP's, then BERT's (BLIP's), then
# RoBERTa's, then Llama 3's.
END_OF_TEXT = (EOS, "<|endoftext|>", "[SEP]", "</s>", "<|end_of_text|>")


def eot_id(tok: tokenizers.Tokenizer) -> int | None:
  """The id of the tokenizer's end-of-text token (None if it has none)."""
  for token in END_OF_TEXT:
    if tok.token_to_id(token) is not None:
      return tok.token_to_id(token)
  return None


def _special(config: dict, key: str, default: str) -> str:
  value = config.get(key) or default
  return value["content"] if isinstance(value, dict) else value


def from_checkpoint(path: str, context_length: int) -> tokenizers.Tokenizer:
  """The checkpoint's tokenizer (`checkpoint_tokenizer`), padded and
  truncated to `context_length` (`load`)."""
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  file = os.path.join(directory, "tokenizer.json")
  if os.path.exists(file):
    return load(file, context_length)
  tok = checkpoint_tokenizer(directory)
  if tok is None:
    raise errors.CheckpointError(
        f"no tokenizer.json (nor BERT's vocab.txt, nor RoBERTa's vocab.json "
        f"and merges.txt) in {directory}. Download the checkpoint's "
        "tokenizer files there, or save its fast tokenizer, e.g. "
        "transformers.AutoTokenizer.from_pretrained(...).save_pretrained("
        f"{directory!r})")
  return _padded(tok, _tokenizer_config(directory), directory,
                 context_length)


def checkpoint_tokenizer(directory: str) -> tokenizers.Tokenizer | None:
  """The fast tokenizer of a Hugging Face checkpoint directory: its
  `tokenizer.json`, else one built from the slow tokenizer's files the way
  transformers converts them (BERT's `vocab.txt`: WordPiece with BERT's
  normaliser, lower-casing unless `tokenizer_config.json` says
  `do_lower_case: false`; RoBERTa's `vocab.json` + `merges.txt`: byte-level
  BPE, `<s> ... </s>`); None without any of them."""
  file = os.path.join(directory, "tokenizer.json")
  if os.path.exists(file):
    return load_file(file)
  config = _tokenizer_config(directory)
  try:
    if os.path.exists(os.path.join(directory, "vocab.txt")):
      return _wordpiece_from_vocab(directory, config)
    if all(os.path.exists(os.path.join(directory, f))
           for f in ("vocab.json", "merges.txt")):
      return _byte_bpe_from_vocab(directory, config)
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise errors.CheckpointError(
        f"cannot read the tokenizer files in {directory}: {e}. Download "
        "them again") from None
  return None


def _tokenizer_config(directory: str) -> dict:
  file = os.path.join(directory, "tokenizer_config.json")
  if not os.path.exists(file):
    return {}
  return io_utils.read_json(file, what="tokenizer config",
                            remedy="re-download or re-save it",
                            error=errors.CheckpointError)


def _specials(tok: tokenizers.Tokenizer, config: dict, defaults: dict,
              where: str) -> dict[str, str]:
  """The special tokens (`tokenizer_config.json`'s, else `defaults`),
  registered so that the text never splits them; each must be in the
  vocabulary."""
  found = {k: _special(config, k, v) for k, v in defaults.items()}
  for key, token in found.items():
    if tok.token_to_id(token) is None:
      raise errors.CheckpointError(
          f"{where} lacks the {key} {token!r} of its tokenizer config")
  tok.add_special_tokens([tokenizers.AddedToken(
      t, lstrip=k == "mask_token" and t == "<mask>", normalized=False,
      special=True) for k, t in found.items()])
  pad = found["pad_token"]  # what `_padded` pads with
  tok.enable_padding(pad_id=tok.token_to_id(pad), pad_token=pad)
  return found


def _wordpiece_from_vocab(directory: str,
                          config: dict) -> tokenizers.Tokenizer:
  file = os.path.join(directory, "vocab.txt")
  with open(file, encoding="utf-8") as f:  # one token per line, its id
    vocab = {t.rstrip("\n"): i for i, t in enumerate(f.readlines())}
  tok = tokenizers.Tokenizer(models.WordPiece(
      vocab, unk_token=_special(config, "unk_token", "[UNK]"),
      max_input_chars_per_word=100))
  tok.normalizer = normalizers.BertNormalizer(
      clean_text=True,
      handle_chinese_chars=config.get("tokenize_chinese_chars", True),
      strip_accents=config.get("strip_accents"),
      lowercase=config.get("do_lower_case", True))
  tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  tok.decoder = decoders.WordPiece(prefix="##")
  s = _specials(tok, config, {"unk_token": "[UNK]", "sep_token": "[SEP]",
                              "pad_token": "[PAD]", "cls_token": "[CLS]",
                              "mask_token": "[MASK]"}, file)
  cls, sep = s["cls_token"], s["sep_token"]
  tok.post_processor = processors.TemplateProcessing(
      single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 "
      f"{sep}:1", special_tokens=[(cls, tok.token_to_id(cls)),
                                  (sep, tok.token_to_id(sep))])
  return tok


def _byte_bpe_from_vocab(directory: str,
                         config: dict) -> tokenizers.Tokenizer:
  file = os.path.join(directory, "vocab.json")
  with open(file, encoding="utf-8") as f:
    vocab = json.load(f)
  with open(os.path.join(directory, "merges.txt"), encoding="utf-8") as f:
    merges = [tuple(line.split()) for line in f.read().splitlines()
              if line and not line.startswith("#version")]
  tok = tokenizers.Tokenizer(models.BPE(
      vocab, merges, continuing_subword_prefix="", end_of_word_suffix="",
      fuse_unk=False))
  prefix = bool(config.get("add_prefix_space", False))
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix)
  tok.decoder = decoders.ByteLevel()
  s = _specials(tok, config, {"bos_token": "<s>", "eos_token": "</s>",
                              "unk_token": "<unk>", "pad_token": "<pad>",
                              "mask_token": "<mask>"}, file)
  cls = _special(config, "cls_token", s["bos_token"])
  sep = _special(config, "sep_token", s["eos_token"])
  tok.post_processor = processors.RobertaProcessing(
      (sep, tok.token_to_id(sep)), (cls, tok.token_to_id(cls)),
      trim_offsets=config.get("trim_offsets", True), add_prefix_space=prefix)
  return tok


def load(file: str, context_length: int) -> tokenizers.Tokenizer:
  """A saved `tokenizer.json`, padded and truncated to `context_length`
  like the others. The padding token: `tokenizer_config.json`'s beside it,
  else the file's own padding, else the end-of-text token (CLIP's way)."""
  directory = os.path.dirname(file)
  return _padded(load_file(file), _tokenizer_config(directory), file,
                 context_length)


def load_file(file: str) -> tokenizers.Tokenizer:
  """A saved `tokenizer.json` as it is."""
  if not os.path.isfile(file):
    raise errors.CheckpointError(f"tokenizer file {file} does not exist")
  try:
    return tokenizers.Tokenizer.from_file(file)
  except Exception as e:  # the Rust library raises plain Exceptions
    raise errors.CheckpointError(f"{file} is not a valid tokenizer: "
                                 f"{e}") from None


def _padded(tok: tokenizers.Tokenizer, config: dict, where: str,
            context_length: int) -> tokenizers.Tokenizer:
  end = eot_id(tok)
  eos = _special(config, "eos_token", "<|endoftext|>" if end is None
                 else tok.id_to_token(end))
  own_pad = (tok.padding or {}).get("pad_token")
  pad = _special(config, "pad_token", own_pad or eos)
  if tok.token_to_id(pad) is None:
    raise errors.CheckpointError(f"{where} has no padding token {pad!r}")
  tok.enable_truncation(context_length)
  tok.enable_padding(pad_id=tok.token_to_id(pad), pad_token=pad,
                     length=context_length)
  return tok


def unknown_rate(tok: tokenizers.Tokenizer, texts) -> float:
  """The fraction of `texts`' tokens (special tokens and padding aside)
  that are the tokenizer's unknown token; 0 for tokenizers without one
  (byte-level BPE)."""
  unk = getattr(tok.model, "unk_token", None)
  unk_id = tok.token_to_id(unk) if unk else None
  if unk_id is None:
    return 0.0
  total = unknown = 0
  for e in tok.encode_batch(list(texts)):
    ids = [i for i, special in zip(e.ids, e.special_tokens_mask)
           if not special]
    total += len(ids)
    unknown += sum(i == unk_id for i in ids)
  return unknown / total if total else 0.0


def encode(tok: tokenizers.Tokenizer, texts: list[str]) -> np.ndarray:
  """Token ids `(N, context_length)` int32 for a list of strings."""
  return np.asarray([e.ids for e in tok.encode_batch(list(texts))], np.int32)

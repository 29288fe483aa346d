"""Which tokenizer a run uses, where it comes from, and its checks.

A run's tokenizer is a file (`model.tokenizer`), the checkpoint's
(`model.pretrained`), the embedded datasets' fixed vocabulary, or a
WordPiece vocabulary trained once on a hand-downloaded dataset's training
texts and kept in the workdir (`tokenizer_source`).
"""

from __future__ import annotations

import os
from typing import Callable, Iterable

from absl import logging
import tokenizers

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.data.core.spec import DatasetSpec
from mmul_jax.data.core import tokenizer as tokenizer_lib


def _check_tokenizer(tok: tokenizers.Tokenizer, model_cfg,
                     described: str) -> None:
  """`described` says where `tok` came from, so a message points at the
  file to change."""
  size = tok.get_vocab_size()
  # A language model's embedding may have spare rows (Qwen2's 151,936 for
  # 151,665 tokens); the others' rows are their tokenizer's.
  if model_cfg.pretrained and size != model_cfg.vocab_size and (
      model_cfg.get("arch") != "llama" or size > model_cfg.vocab_size):
    # A checkpoint's embedding rows belong to its own vocabulary.
    raise errors.ConfigError(
        f"{described} has {size} tokens but the checkpoint "
        f"{model_cfg.pretrained} has {model_cfg.vocab_size} embedding rows "
        "(model.vocab_size); use the checkpoint's own tokenizer.json")
  if size > model_cfg.vocab_size:
    raise errors.ConfigError(
        f"{described} has {size} tokens but model.vocab_size is "
        f"{model_cfg.vocab_size}; raise model.vocab_size")
  if tokenizer_lib.eot_id(tok) != model_cfg.eot_id:
    raise errors.ConfigError(
        f"model.eot_id is {model_cfg.eot_id} but the end-of-text id of "
        f"{described} is {tokenizer_lib.eot_id(tok)}")


def describe_tokenizer(source: str, model_cfg, workdir: str = "") -> str:
  """Where the tokenizer of `tokenizer_source` comes from, in words."""
  if source == "file":
    return f"the tokenizer model.tokenizer={model_cfg.tokenizer}"
  if source == "checkpoint":
    return f"the tokenizer.json beside model.pretrained={model_cfg.pretrained}"
  if source == "embedded":
    return "the embedded datasets' vocabulary"
  return ("the WordPiece vocabulary trained for this dataset in "
          f"{os.path.join(workdir, TOKENIZER_FILE)}")


def warn_if_unknown(tok: tokenizers.Tokenizer, texts: Iterable[str],
                    described: str, *, threshold: float = 0.05) -> float:
  """Warns when more than `threshold` of the tokens of `texts` (a sample
  of training texts) are the unknown token: a tokenizer made for other
  text would turn the captions into noise. Returns the rate."""
  rate = tokenizer_lib.unknown_rate(tok, texts)
  if rate > threshold:
    logging.warning(
        "%.0f%% of the tokens of the training texts are unknown ([UNK]) to "
        "%s; the model would see little of the text. Use a tokenizer made "
        "for this data (see model.tokenizer in docs/configs.md)", 100 * rate,
        described)
  return rate


TOKENIZER_FILE = "tokenizer.json"  # a trained tokenizer, in the workdir
TOKENIZER_SOURCE_FILE = "tokenizer_source.json"  # what it was trained on


def tokenizer_source(model_cfg, spec: DatasetSpec) -> str:
  """Where a run's tokenizer comes from: "file" (`model.tokenizer`),
  "checkpoint" (`model.pretrained`'s), "embedded" (the embedded datasets'
  fixed vocabulary) or "trained" (a WordPiece vocabulary trained on a
  hand-downloaded dataset's training texts: the embedded vocabulary would
  turn most real words into [UNK]). A dataset without text (image, audio,
  video classification) gets the embedded one, which it never reads."""
  if not spec.has_text:
    return "embedded"
  if model_cfg.tokenizer:
    return "file"
  if model_cfg.pretrained:
    return "checkpoint"
  return "trained" if spec.manual or spec.real_text else "embedded"


def make_tokenizer(model_cfg, spec: DatasetSpec = DatasetSpec(), *,
                   workdir: str = "", dataset_name: str = "",
                   texts: Callable[[], Iterable[str]] | None = None
                   ) -> tokenizers.Tokenizer:
  """The run's tokenizer (`tokenizer_source`), checked against the model.
  A "trained" one needs the `workdir` that keeps it, the dataset's name and
  its training `texts`."""
  source = tokenizer_source(model_cfg, spec)
  length = model_cfg.context_length
  if source == "file":
    tok = tokenizer_lib.load(os.path.expanduser(model_cfg.tokenizer), length)
  elif source == "checkpoint":
    tok = tokenizer_lib.from_checkpoint(
        os.path.expanduser(model_cfg.pretrained), length)
  elif source == "embedded":
    tok = tokenizer_lib.shapes_tokenizer(
        length, tuple(spec.task_words),
        words=spec.words() if spec.words else None)
  else:
    tok = _trained_tokenizer(model_cfg, workdir, dataset_name, texts)
  if spec.has_text:  # a dataset without text never reads it
    _check_tokenizer(tok, model_cfg,
                     describe_tokenizer(source, model_cfg, workdir))
  return tok


def _trained_tokenizer(model_cfg, workdir: str, dataset_name: str,
                       texts) -> tokenizers.Tokenizer:
  """Trained once, by process 0, and kept in the workdir: WordPiece
  training breaks ties differently in every process, so other hosts,
  resumed runs and later methods must all read this one file."""
  path = os.path.join(workdir, TOKENIZER_FILE)
  source_path = os.path.join(workdir, TOKENIZER_SOURCE_FILE)
  wanted = {"dataset": dataset_name, "vocab_size": model_cfg.vocab_size}
  with distributed.main_first("train tokenizer"):
    if not os.path.exists(path):
      tok = tokenizer_lib.train_wordpiece(
          texts(), model_cfg.vocab_size, model_cfg.context_length)
      # The source first: a tokenizer file never lacks one.
      io_utils.atomic_write_json(source_path, wanted)
      io_utils.atomic_write_text(path, tok.to_str())
  stored = {}
  if os.path.exists(source_path):
    stored = io_utils.read_json(
        source_path, what="tokenizer record",
        remedy=f"delete it and {TOKENIZER_FILE} beside it to train the "
        "tokenizer again")
  if stored != wanted:
    raise errors.ConfigError(
        f"{path} was trained for {stored or 'an unknown source'}, this run "
        f"needs one for {wanted}; use another workdir (or delete both "
        f"{TOKENIZER_FILE} and {TOKENIZER_SOURCE_FILE} there)")
  return tokenizer_lib.load(path, model_cfg.context_length)

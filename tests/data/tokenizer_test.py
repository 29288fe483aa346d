"""Tokenizers: the WordPiece vocabulary trained on a real dataset's texts,
saved files read back, and the run's choice of tokenizer."""

import json
import os

import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.data.core import tokenizer_policy
from mmul_jax.data import datasets
from mmul_jax.data.core import tokenizer as tokenizer_lib

TEXTS = [
    "The molecule is a primary alcohol that is ethane in which one of the "
    "hydrogens is replaced by a hydroxy group.",
    "The molecule is an L-alpha-amino acid with a 4-hydroxyphenyl side "
    "chain.",
    "The molecule is a monocarboxylic acid that is propanoic acid "
    "substituted by a 4-(2-methylpropyl)phenyl group.",
] * 20


def test_trained_wordpiece_keeps_words_and_our_special_tokens():
  tok = tokenizer_lib.train_wordpiece(TEXTS, 200, 24)
  assert [tok.token_to_id(t) for t in tokenizer_lib.SPECIAL_TOKENS] == [
      0, 1, 2, 3]
  assert tok.get_vocab_size() <= 200
  enc = tok.encode("The 4-(2-methylpropyl)phenyl group")
  assert len(enc.ids) == 24
  assert enc.tokens[0] == "[BOS]" and enc.ids[-1] == 0  # padded
  words = [t for t in enc.tokens if t not in tokenizer_lib.SPECIAL_TOKENS]
  assert "[UNK]" not in words and "group" in words and "(" in words
  # Lower-cased; a never-seen character is unknown, not dropped.
  assert tok.encode("GROUP").tokens[1] == "group"
  assert "[UNK]" in tok.encode("group ☃").tokens
  assert tokenizer_lib.eot_id(tok) == tok.token_to_id("[EOS]") == 2


def test_saved_tokenizer_loads_back_with_its_own_padding(tmp_path):
  tok = tokenizer_lib.train_wordpiece(TEXTS, 200, 24)
  path = tmp_path / "tokenizer.json"
  path.write_text(tok.to_str())
  back = tokenizer_lib.load(str(path), 16)  # a new context length
  assert back.encode(TEXTS[1]).tokens[:10] == tok.encode(TEXTS[1]).tokens[:10]
  assert len(back.encode(TEXTS[1]).ids) == 16
  assert back.encode("a").ids[-1] == 0  # [PAD], its own padding token
  assert (tokenizer_lib.vocabulary_sha256(back)
          == tokenizer_lib.vocabulary_sha256(tok))
  with pytest.raises(errors.CheckpointError, match="does not exist"):
    tokenizer_lib.load(str(tmp_path / "missing.json"), 16)
  (tmp_path / "bad.json").write_text("{not json")
  with pytest.raises(errors.CheckpointError, match="not a valid tokenizer"):
    tokenizer_lib.load(str(tmp_path / "bad.json"), 16)


def _model_config(**changes):
  c = config_schema.default_config().model
  c.update(changes)
  return c


def test_a_real_dataset_trains_its_tokenizer_once_per_workdir(tmp_path):
  spec = datasets.DATASETS["chebi20"]
  cfg = _model_config(vocab_size=200, context_length=24)
  assert tokenizer_policy.tokenizer_source(cfg, spec) == "trained"
  assert tokenizer_policy.tokenizer_source(
      cfg, datasets.DATASETS["molecule_text"]) == "embedded"
  kw = dict(workdir=str(tmp_path), dataset_name="chebi20/1.0.0")
  tok = tokenizer_policy.make_tokenizer(cfg, spec, texts=lambda: iter(TEXTS), **kw)
  assert json.loads((tmp_path / "tokenizer_source.json").read_text()) == {
      "dataset": "chebi20/1.0.0", "vocab_size": 200}

  def no_training():
    raise AssertionError("the saved tokenizer must be read, not retrained")
  again = tokenizer_policy.make_tokenizer(cfg, spec, texts=no_training, **kw)
  assert (tokenizer_lib.vocabulary_sha256(again)
          == tokenizer_lib.vocabulary_sha256(tok))
  # Another vocabulary size in the same workdir is refused, not reused.
  with pytest.raises(config_schema.ConfigError, match="another workdir"):
    tokenizer_policy.make_tokenizer(_model_config(vocab_size=300,
                                            context_length=24),
                              spec, texts=no_training, **kw)
  # model.tokenizer names a file: used as it is, on any dataset.
  named = _model_config(vocab_size=200, context_length=24,
                        tokenizer=os.path.join(tmp_path, "tokenizer.json"))
  assert tokenizer_policy.tokenizer_source(named, spec) == "file"
  tok = tokenizer_policy.make_tokenizer(named, datasets.DATASETS["molecule_text"])
  assert tokenizer_lib.vocabulary_sha256(tok) == (
      tokenizer_lib.vocabulary_sha256(again))
  # A vocabulary larger than the model's embedding table is refused.
  with pytest.raises(config_schema.ConfigError, match="raise model.vocab"):
    tokenizer_policy.make_tokenizer(_model_config(
        vocab_size=50, context_length=24, tokenizer=named.tokenizer), spec)


def test_most_text_unknown_to_the_tokenizer_warns_with_the_rate(caplog):
  from mmul_jax.data.core import tokenizer as t
  tok = t.train_wordpiece(["the cat sat on the mat"] * 20, 60, 16)
  assert t.unknown_rate(tok, ["the cat sat"]) == 0.0
  with caplog.at_level("WARNING"):
    rate = tokenizer_policy.warn_if_unknown(tok, ["the cat", "zebra quokka"],
                                      "the tokenizer model.tokenizer=x.json")
  assert rate == 0.5
  assert "50% of the tokens" in caplog.text and "x.json" in caplog.text
  caplog.clear()
  with caplog.at_level("WARNING"):
    tokenizer_policy.warn_if_unknown(tok, ["the mat"], "x")
  assert not caplog.text


def test_tokenizer_errors_name_the_file_it_came_from(tmp_path):
  spec = datasets.DATASETS["chebi20"]
  cfg = _model_config(vocab_size=200, context_length=24)
  kw = dict(workdir=str(tmp_path), dataset_name="chebi20/1.0.0")
  tokenizer_policy.make_tokenizer(cfg, spec, texts=lambda: iter(TEXTS), **kw)
  file = os.path.join(tmp_path, "tokenizer.json")
  # A named file, with a checkpoint: the file is what to change.
  with pytest.raises(config_schema.ConfigError,
                     match=rf"the tokenizer model.tokenizer={file} has \d+ "
                     "tokens but the checkpoint /ckpt"):
    tokenizer_policy._check_tokenizer(
        tokenizer_lib.load(file, 24), _model_config(
            vocab_size=999, pretrained="/ckpt", tokenizer=file),
        tokenizer_policy.describe_tokenizer("file", _model_config(tokenizer=file)))
  with pytest.raises(config_schema.ConfigError,
                     match=r"the WordPiece vocabulary trained for this "
                     rf"dataset in {file} has \d+ tokens but "
                     "model.vocab_size is 50"):
    tokenizer_policy._check_tokenizer(
        tokenizer_lib.load(file, 24), _model_config(vocab_size=50),
        tokenizer_policy.describe_tokenizer("trained", cfg, str(tmp_path)))

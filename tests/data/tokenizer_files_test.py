"""A checkpoint that ships only its slow tokenizer's files (BioBERT's and
PubMedBERT's vocab.txt, RoBERTa's vocab.json + merges.txt) tokenises as
transformers' fast tokenizer converted from the same files (golden ids from
tests/fixtures/make_tokenizer_golden.py)."""

import os
import shutil

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.core import tokenizer
from mmul_jax.pretrained import hf_state

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                      "tokenizer_golden")


@pytest.fixture(scope="module")
def golden():
  return dict(np.load(os.path.join(GOLDEN, "ids.npz")))


@pytest.mark.parametrize("name", ["uncased", "cased", "bpe"])
def test_ids_match_transformers(golden, name):
  assert not os.path.exists(os.path.join(GOLDEN, name, "tokenizer.json"))
  context = golden[name].shape[1]
  tok = tokenizer.from_checkpoint(os.path.join(GOLDEN, name), context)
  texts = [str(t) for t in golden["texts"]]
  np.testing.assert_array_equal(tokenizer.encode(tok, texts), golden[name])


@pytest.mark.parametrize("name,sep", [("uncased", 6), ("cased", 3)])
def test_the_end_of_text_id_comes_from_vocab_txt(name, sep):
  """BERT's vocabulary puts [unused] rows before [SEP]; PubMedBERT's does
  not: the id is read, not assumed."""
  path = os.path.join(GOLDEN, name)
  assert hf_state.sep_id(path, -1) == sep
  assert tokenizer.eot_id(tokenizer.from_checkpoint(path, 8)) == sep


def test_casing_follows_the_tokenizer_config(golden):
  text = ["WARFARIN"]
  lower = tokenizer.from_checkpoint(os.path.join(GOLDEN, "uncased"), 6)
  cased = tokenizer.from_checkpoint(os.path.join(GOLDEN, "cased"), 6)
  assert lower.decode(tokenizer.encode(lower, text)[0]) == "warfarin"
  assert cased.decode(tokenizer.encode(cased, text)[0]) == "WARFARIN"


def test_missing_or_unfit_files_are_one_line(tmp_path):
  with pytest.raises(errors.CheckpointError, match="no tokenizer.json .*"
                     "vocab.txt"):
    tokenizer.from_checkpoint(str(tmp_path), 8)
  shutil.copytree(os.path.join(GOLDEN, "uncased"), tmp_path / "v")
  vocab = (tmp_path / "v" / "vocab.txt").read_text().splitlines()
  (tmp_path / "v" / "vocab.txt").write_text(
      "\n".join(t for t in vocab if t != "[SEP]") + "\n")
  with pytest.raises(errors.CheckpointError,
                     match=r"vocab.txt lacks the sep_token '\[SEP\]'"):
    tokenizer.from_checkpoint(str(tmp_path / "v"), 8)
  (tmp_path / "v" / "vocab.txt").write_bytes(b"\xff\xfe[PAD]\n")
  with pytest.raises(errors.CheckpointError,
                     match="cannot read the tokenizer files"):
    tokenizer.from_checkpoint(str(tmp_path / "v"), 8)

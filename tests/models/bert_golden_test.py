"""BERT, RoBERTa and DistilBERT parity without torch: random tiny
`*ForSequenceClassification` checkpoints in Hugging Face's layout
(tests/fixtures/bert_golden, written by tests/fixtures/make_bert_golden.py)
must give, through our tokenizer, importer and
`models.bert_classifier.BertClassifier`, what transformers computed: the
token ids (WordPiece and byte-level BPE), the class logits and the
features the last Linear reads, to 1e-4 (float32)."""

import functools
import os
import shutil

import bert_checkpoints
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.models import bert_classifier
from mmul_jax.pretrained import bert_weights

GOLDEN = bert_checkpoints.GOLDEN
TOL = dict(rtol=1e-4, atol=1e-4)
LAYOUTS = bert_checkpoints.LAYOUTS
checkpoint = bert_checkpoints.checkpoint
pretrained = bert_checkpoints.pretrained


@functools.lru_cache(maxsize=None)
def _template(layout: str, dtype=jnp.float32):
  config = bert_weights.model_config(checkpoint(layout))
  model = bert_classifier.BertClassifier(**config, dtype=dtype)
  golden = dict(np.load(os.path.join(GOLDEN, "outputs.npz")))
  init = jax.jit(functools.partial(model.init, method=model.classify))
  params = init(jax.random.key(0), golden[f"{layout}_ids"][:1])["params"]
  return model, jax.tree.map(np.asarray, params), golden


def _classify(model, params, ids):
  return jax.jit(lambda p: model.apply({"params": p}, ids,
                                       method=model.classify))(params)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_import_matches_transformers(layout):
  model, params, golden = _template(layout)
  path = checkpoint(layout)
  tok = tokenizer_lib.from_checkpoint(path, 16)
  ids = tokenizer_lib.encode(tok, [str(t) for t in golden["texts"]])
  np.testing.assert_array_equal(ids, golden[f"{layout}_ids"])
  loaded = bert_weights.import_params(params, path)
  out = _classify(model, loaded, ids)
  np.testing.assert_allclose(out["class_logits"], golden[f"{layout}_logits"],
                             **TOL)
  np.testing.assert_allclose(out["features"], golden[f"{layout}_features"],
                             **TOL)


def test_the_architecture_comes_from_config_json():
  keys = bert_weights.model_keys(checkpoint("roberta"))
  assert keys["arch"] == "roberta"
  assert (keys["text_width"], keys["text_layers"], keys["text_heads"]) == (
      32, 2, 4)
  assert keys["text_positions"] == 24  # 26 rows, two reserved
  assert keys["eot_id"] == 2 and keys["mlp_ratio"] == 2.0  # </s>
  assert bert_weights.model_keys(checkpoint("bert"))["eot_id"] == 3


_rewritten = bert_checkpoints.rewritten


def test_a_pretrained_checkpoint_loads_as_the_backbone(tmp_path):
  path = pretrained(tmp_path)
  assert not bert_weights.has_head(path)
  assert bert_weights.has_head(checkpoint("bert"))
  _, params, _ = _template("bert")
  backbone = bert_weights.import_params(params, path)
  whole = bert_weights.import_params(params, checkpoint("bert"))
  np.testing.assert_array_equal(backbone["classifier"]["kernel"],
                                params["classifier"]["kernel"])
  np.testing.assert_array_equal(backbone["bert"]["pooler"]["dense"]["bias"],
                                params["bert"]["pooler"]["dense"]["bias"])
  jax.tree.map(np.testing.assert_array_equal,
               backbone["bert"]["encoder"], whole["bert"]["encoder"])
  jax.tree.map(np.testing.assert_array_equal,
               backbone["bert"]["embeddings"], whole["bert"]["embeddings"])


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("classifier.bias"), "no tensor for 1 parameter"),
    (lambda s: s.update({"bert.pooler.dense.weight": s[
        "bert.pooler.dense.weight"][:, :8]}),
     r"'bert.pooler.dense.weight' has shape \(32, 8\)"),
    (lambda s: s.update({"classifier.bias": s["classifier.bias"].astype(
        np.int32)}), "'classifier.bias' has dtype int32"),
    (lambda s: s.update({"extra.weight": np.zeros(3, np.float32)}),
     "'extra.weight' has no place"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  path = _rewritten(tmp_path, "bert", change)
  _, params, _ = _template("bert")
  with pytest.raises(errors.CheckpointError, match=match):
    bert_weights.import_params(params, path)


def test_a_truncated_checkpoint_is_refused(tmp_path):
  directory = tmp_path / "bert"
  shutil.copytree(checkpoint("bert"), directory)
  weights = directory / "model.safetensors"
  weights.write_bytes(weights.read_bytes()[:4000])
  _, params, _ = _template("bert")
  with pytest.raises(errors.CheckpointError):
    bert_weights.import_params(params, str(directory))


def test_another_architecture_is_refused(tmp_path):
  blip = os.path.join(os.path.dirname(GOLDEN), "blip_golden", "hf")
  with pytest.raises(errors.CheckpointError,
                     match="not BertForSequenceClassification"):
    bert_weights.model_config(blip)


@pytest.mark.slow  # two more compilations (default-suite time)
def test_bfloat16_compute_stays_close():
  """bf16 compute with float32 parameters: logits within 0.05."""
  model, params, golden = _template("bert")
  loaded = bert_weights.import_params(params, checkpoint("bert"))
  half, _, _ = _template("bert", jnp.bfloat16)
  ids = golden["bert_ids"]
  gap = np.abs(_classify(half, loaded, ids)["class_logits"]
               - _classify(model, loaded, ids)["class_logits"])
  assert gap.max() < 0.05, gap.max()


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 400_000, total

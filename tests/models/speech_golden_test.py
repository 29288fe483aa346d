"""wav2vec 2.0 and HuBERT keyword-spotting parity without torch: a random
tiny `transformers.Wav2Vec2ForSequenceClassification` (group norm, post-LN,
normalised waveform) and `HubertForSequenceClassification` (LayerNorm
convolutions, pre-LN, raw waveform) with their feature extractors
(tests/fixtures/speech_golden, written by
tests/fixtures/make_speech_golden.py) must give, through our importer and
`models.speech_classifier.SpeechClassifier`, what transformers computed
from the same waveforms: class logits and pooled features, to 1e-4
(float32)."""

import functools
import json
import os

import bert_checkpoints
import jax
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.models import speech_classifier
from mmul_jax.pretrained import speech_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "speech_golden")
TOL = dict(rtol=1e-4, atol=1e-4)


def _ckpt(root):
  return os.path.join(GOLDEN, root)


@functools.lru_cache(maxsize=None)
def _template(root, **changes):
  config = {**speech_weights.model_config(_ckpt(root)), **changes}
  model = speech_classifier.SpeechClassifier(**config)
  params = jax.jit(functools.partial(model.init, method=model.classify))(
      jax.random.key(0), np.zeros((1, 1600), np.float32))
  return model, jax.tree.map(np.asarray, params["params"])


def _classify(model, params, waves):
  return jax.jit(lambda p: model.apply({"params": p}, waves,
                                       method=model.classify))(params)


@pytest.mark.parametrize("root", ["wav2vec2", "hubert"])
def test_import_matches_transformers(root):
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  model, params = _template(root)
  out = _classify(model, speech_weights.import_params(params, _ckpt(root)),
                  golden["waveforms"])
  np.testing.assert_allclose(out["class_logits"], golden[f"{root}_logits"],
                             **TOL)
  np.testing.assert_allclose(out["features"], golden[f"{root}_features"],
                             **TOL)


def test_the_feature_extractor_decides_the_normalisation(tmp_path):
  """HuBERT's extractor does not normalise: normalising anyway moves the
  logits past the tolerance, so the golden check sees the flag."""
  golden = np.load(os.path.join(GOLDEN, "outputs.npz"))
  assert not speech_weights.model_config(_ckpt("hubert"))["normalize"]
  assert speech_weights.model_config(_ckpt("wav2vec2"))["normalize"]
  model, params = _template("hubert", normalize=True)
  out = _classify(model, speech_weights.import_params(params,
                                                      _ckpt("hubert")),
                  golden["waveforms"])
  assert np.abs(out["class_logits"] - golden["hubert_logits"]).max() > 1e-3


def _pretrained(tmp_path, root="hubert", old_names=False):
  """The golden classifier as a pretrained checkpoint: the bare model's
  names, no head, a masking embedding and (wav2vec2) a quantiser; with
  `old_names` the weight norm as `weight_g` / `weight_v`."""

  def change(state):
    for k in list(state):
      v = state.pop(k)
      if k.startswith(("projector.", "classifier.")):
        continue
      k = k[len(root) + 1:]
      if old_names:
        k = k.replace("parametrizations.weight.original0", "weight_g")
        k = k.replace("parametrizations.weight.original1", "weight_v")
      state[k] = v
    state["quantizer.codevectors"] = np.zeros((1, 4, 8), np.float32)

  def config(c):
    c["architectures"] = ["HubertModel" if root == "hubert"
                          else "Wav2Vec2ForPreTraining"]

  return bert_checkpoints.copy_changed(_ckpt(root), tmp_path / root, change,
                                       config)


@pytest.mark.parametrize("old_names", [False, True])
def test_the_pretrained_model_loads_as_the_backbone(tmp_path, old_names):
  path = _pretrained(tmp_path, old_names=old_names)
  task = type("Task", (), {"num_classes": 5})
  assert not speech_weights.has_head(path, task)
  assert speech_weights.has_head(_ckpt("hubert"), task)
  _, params = _template("hubert")
  loaded = speech_weights.import_params(params, path)
  whole = speech_weights.import_params(params, _ckpt("hubert"))
  for head in ("projector", "classifier"):
    np.testing.assert_array_equal(loaded[head]["kernel"],
                                  params[head]["kernel"])
  jax.tree.map(np.testing.assert_array_equal, loaded["hubert"],
               whole["hubert"])


_V = "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original1"


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("wav2vec2.encoder.layer_norm.bias"),
     "no tensor for 1 parameter"),
    (lambda s: s.update({_V: s[_V][:, :4]}),
     r"'wav2vec2.encoder.pos_conv_embed.conv.weight_v' has shape "
     r"\(16, 4, 4\)"),
    (lambda s: s.update({"wav2vec2.stray.weight": s["classifier.weight"]}),
     "'wav2vec2.stray.weight' has no place"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  path = bert_checkpoints.copy_changed(_ckpt("wav2vec2"),
                                       tmp_path / "wav2vec2", change)
  _, params = _template("wav2vec2")
  with pytest.raises(errors.CheckpointError, match=match):
    speech_weights.import_params(params, path)


@pytest.mark.parametrize("key,value,match", [
    ("use_weighted_layer_sum", True, "a weighted layer sum is not supported"),
    ("model_type", "whisper", "model_type 'whisper' is not wav2vec2"),
    ("feat_extract_activation", "relu", "feature activation 'relu'"),
])
def test_an_unsupported_configuration_is_one_line(tmp_path, key, value,
                                                  match):
  def config(c):
    c[key] = value

  path = bert_checkpoints.copy_changed(_ckpt("hubert"), tmp_path / "h",
                                       lambda s: None, config)
  with pytest.raises(errors.CheckpointError, match=match):
    speech_weights.model_config(path)


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  assert total < 300_000, total
  with open(os.path.join(GOLDEN, "hubert", "config.json")) as f:
    assert json.load(f)["do_stable_layer_norm"]

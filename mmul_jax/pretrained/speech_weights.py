"""wav2vec 2.0 and HuBERT checkpoints (Hugging Face directories:
safetensors, sharded, or `pytorch_model.bin` read without torch) into
`models.speech_classifier.SpeechClassifier`, by name (`hf_state`).

The model is sized by the checkpoint's config.json (`model_config`), not
by `model.*` keys: `model.arch = "wav2vec2"` or `"hubert"` reads it from
`model.pretrained` (or `model.original`), and whether the waveform is
normalised from its `preprocessor_config.json` (`do_normalize`; true when
the file is absent, as `Wav2Vec2FeatureExtractor`'s default).

* a `*ForSequenceClassification` gives every weight (its head only when
  its classes are the task's);
* a pretrained `Wav2Vec2ForPreTraining`, `Wav2Vec2Model`, `HubertModel`
  or a `*ForCTC` (`facebook/wav2vec2-base`, `facebook/hubert-base-ls960`,
  MU-Bench's starting points) gives the encoder; the projector and the
  classifier keep their initialisation; the quantiser, its projections,
  the CTC head and `masked_spec_embed` are dropped.

The positional convolution's weight norm comes as `weight_g` / `weight_v`
(older torch) or `parametrizations.weight.original0` / `original1`.
"""

from __future__ import annotations

import os
import re

import numpy as np

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

ROOTS = ("wav2vec2", "hubert")
_PREFIX = {"wav2vec2": "Wav2Vec2", "hubert": "Hubert"}
_CLASSIFIERS = {f"{p}ForSequenceClassification" for p in _PREFIX.values()}
_ACCEPTED = tuple(sorted(_CLASSIFIERS | {
    "Wav2Vec2Model", "Wav2Vec2ForPreTraining", "Wav2Vec2ForCTC",
    "HubertModel", "HubertForCTC"}))
EXAMPLES = {"wav2vec2": "facebook/wav2vec2-base",
            "hubert": "facebook/hubert-base-ls960"}
_DROPPED = re.compile(r"(^|\.)(masked_spec_embed|quantizer\.|project_q\.|"
                      r"project_hid\.|lm_head\.)")


def fine_tuned_download(path: str) -> str:
  """Where a fine-tuned classifier (`model.original`) comes from."""
  return ("huggingface-cli download <a Wav2Vec2ForSequenceClassification or "
          "HubertForSequenceClassification fine-tuned on this task> "
          f"--local-dir {path} (or leave model.original empty: the original "
          "then fine-tunes on D from model.pretrained, e.g. "
          f"{EXAMPLES['hubert']})")


def _config(path: str) -> dict:
  name = os.path.basename(os.path.normpath(path))
  example = (f"facebook/{name}" if name.startswith(("wav2vec2-", "hubert-"))
             else EXAMPLES["hubert"])
  return hf_state.read_config(
      path, _ACCEPTED, what="a wav2vec 2.0 or HuBERT checkpoint",
      example=example,
      files="config.json, model.safetensors, preprocessor_config.json")


def _normalize(path: str) -> bool:
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  file = os.path.join(directory, "preprocessor_config.json")
  if not os.path.exists(file):
    return True
  return bool(io_utils.read_json(
      file, what="feature extractor config", remedy="save the checkpoint's "
      "feature extractor with it (save_pretrained)",
      error=errors.CheckpointError).get("do_normalize", True))


def model_config(path: str) -> dict:
  """`SpeechClassifier`'s arguments from config.json (`num_classes` None
  for a checkpoint without the classification head)."""
  c = _config(path)
  root = c.get("model_type")
  if root not in ROOTS:
    raise errors.CheckpointError(
        f"{path}: model_type {root!r} is not wav2vec2 or hubert")
  unsupported = [
      what for what, bad in (
          ("a weighted layer sum", c.get("use_weighted_layer_sum")),
          ("a batch-normed positional convolution",
           c.get("conv_pos_batch_norm")),
          ("adapter layers", c.get("add_adapter")),
          (f"activation {c.get('hidden_act')!r}",
           c.get("hidden_act", "gelu") != "gelu"),
          (f"feature activation {c.get('feat_extract_activation')!r}",
           c.get("feat_extract_activation", "gelu") != "gelu"),
          (f"feature norm {c.get('feat_extract_norm')!r}",
           c.get("feat_extract_norm", "group") not in ("group", "layer")))
      if bad]
  if unsupported:
    raise errors.CheckpointError(
        f"{path}: {unsupported[0]} is not supported by this port")
  classes = None
  if _CLASSIFIERS & set(c.get("architectures") or []):
    classes = len(c.get("id2label") or {}) or int(c.get("num_labels", 2))
  return dict(
      num_classes=classes, root=root, conv_dim=tuple(c["conv_dim"]),
      conv_kernel=tuple(c["conv_kernel"]),
      conv_stride=tuple(c["conv_stride"]),
      feat_extract_norm=c.get("feat_extract_norm", "group"),
      conv_bias=bool(c.get("conv_bias", False)), width=c["hidden_size"],
      num_layers=c["num_hidden_layers"],
      num_heads=c["num_attention_heads"], mlp_dim=c["intermediate_size"],
      pos_kernel=c["num_conv_pos_embeddings"],
      pos_groups=c["num_conv_pos_embedding_groups"],
      stable_layer_norm=bool(c.get("do_stable_layer_norm", False)),
      projection_layer_norm=bool(c.get("feat_proj_layer_norm", True))
      if root == "hubert" else True,
      projector_size=int(c.get("classifier_proj_size", 256)),
      normalize=_normalize(path), eps=float(c.get("layer_norm_eps", 1e-5)))


def check_model_config(path: str, model_cfg) -> None:
  """`model.arch` must be the checkpoint's family; its sizes are the
  checkpoint's own."""
  root = model_config(path)["root"]
  if model_cfg["arch"] != root:
    raise errors.ConfigError(
        f"model.arch = {model_cfg['arch']!r} but {path} is a {root} "
        f"checkpoint; set model.arch = {root!r}")


def has_head(path: str, task) -> bool:
  """Whether the checkpoint's classifier is for the task's classes."""
  return model_config(path)["num_classes"] == task.num_classes


def read_state(path: str, root: str) -> dict[str, np.ndarray]:
  """The checkpoint's tensors under `SpeechClassifier`'s names."""
  state = {}
  for k, v in clip_weights.read_state_dict(path).items():
    if _DROPPED.search(k):
      continue
    k = (k.replace(".parametrizations.weight.original0", ".weight_g")
         .replace(".parametrizations.weight.original1", ".weight_v"))
    if k.startswith(("feature_extractor.", "feature_projection.",
                     "encoder.")):
      k = f"{root}.{k}"  # saved from the bare model
    state[k] = v
  return state


def import_params(params: dict, path: str) -> dict:
  """`params` (numpy) of a `SpeechClassifier` of the checkpoint's
  architecture with every tensor of the checkpoint in place; a head for
  another number of classes, or none, leaves `params`' classifier (and a
checkpoint without a projector `params`' projector)."""
  root = model_config(path)["root"]
  state = read_state(path, root)
  skip = hf_state.drop_unfit_head(state, params, "classifier")
  if "projector.weight" not in state:
    skip += ["projector/kernel", "projector/bias"]
  return hf_state.import_state(params, state, source=path, skip=skip)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  del model_cfg  # the architecture is the checkpoint's
  return hf_state.import_whole(path, params, import_params)

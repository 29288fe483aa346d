"""The `model.*` config keys: default, doc and check. The architecture
keys' defaults are the `tiny` preset's (`presets.use_preset` sets them
all to another)."""

from __future__ import annotations

import math

from mmul_jax import errors
from mmul_jax.config_keys import Check
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import NONNEGATIVE
from mmul_jax.config_keys import POSITIVE_INT
from mmul_jax.config_keys import Section
from mmul_jax.config_keys import int_at_least
from mmul_jax.config_keys import one_of
from mmul_jax.config_keys import positive_ints
from mmul_jax.models import presets

_TINY = presets.preset("tiny")
# One doc per architecture key of the presets.
_ARCHITECTURE = {
    "embed_dim": "joint embedding size",
    "image_size": "ViT input pixels; must equal `data.image_size` (`vilt`: "
                  "the position grid's, any multiple of `patch_size` "
                  "reads)",
    "patch_size": "ViT patch; divides `image_size`",
    "vision_width": "image tower width",
    "vision_layers": "image tower layers",
    "vision_heads": "image tower attention heads",
    "vocab_size": "text vocabulary",
    "context_length": "tokens per text",
    "text_width": "text tower width",
    "text_layers": "text tower layers",
    "text_heads": "text tower attention heads",
    "eot_id": "the end-of-text token (its position is the text's embedding)",
    "fusion_width": "fusion encoder width (no CLIP counterpart: random)",
    "fusion_layers": "fusion encoder layers (`albef` on two images: "
                     "an even number, pairs)",
    "fusion_heads": "fusion encoder attention heads",
    "activation": "MLP activation: `gelu` (tanh approximation), "
                  "`gelu_exact` (erf), `quick_gelu` (CLIP)",
    "layer_norm_eps": "LayerNorm epsilon (CLIP presets: 1e-5, as OpenAI and "
                      "Hugging Face)",
}
assert set(_ARCHITECTURE) == set(_TINY), "a preset key without its doc"
_CHECKS = {"activation": one_of(("quick_gelu", "gelu", "gelu_exact"))}


def _shapes(config) -> None:
  m = config.model
  if m.original and m.arch == "clip":
    raise errors.ConfigError(
        "model.original takes a whole-model checkpoint (model.arch = blip, "
        "vilt or albef); a CLIP checkpoint holds the towers only")
  if m.arch == "vilt":  # reads any size, its position grid interpolated
    if config.data.image_size % m.patch_size:
      raise errors.ConfigError(
          f"data.image_size ({config.data.image_size}) must be a multiple "
          f"of model.patch_size ({m.patch_size}) for ViLT")
  elif m.image_size != config.data.image_size:
    raise errors.ConfigError(f"model.image_size ({m.image_size}) must "
                             f"equal data.image_size "
                             f"({config.data.image_size})")
  if m.graph_width % m.graph_heads:
    raise errors.ConfigError("model.graph_width must be a multiple of "
                             "model.graph_heads")
  if m.image_size % m.patch_size:
    raise errors.ConfigError("model.image_size must be a multiple of "
                             "model.patch_size")


# The BERT-family layouts (`models.bert_classifier`), for text tasks only.
TEXT_CLASSIFIERS = ("bert", "roberta", "distilbert")
# The image classifiers (`models.vit_classifier`, `models.resnet_classifier`),
# for unimodal image tasks only.
IMAGE_CLASSIFIERS = ("vit", "resnet")
# The speech classifiers (`models.speech_classifier`), for unimodal audio
# tasks only, sized by their checkpoint's config.json.
SPEECH_CLASSIFIERS = ("wav2vec2", "hubert")
# The language models (`models.LANGUAGE_MODELS`), for generation tasks.
LANGUAGE_MODELS = ("llama", "t5")
# Image-conditioned language models (`models.IMAGE_LANGUAGE_MODELS`).
IMAGE_LANGUAGE_MODELS = ("llava",)
# Text-to-image diffusion models (`models.TEXT_TO_IMAGE_MODELS`).
TEXT_TO_IMAGE_MODELS = ("unet",)
# The architectures sized by their checkpoint's config.json, which must be
# set (`pretrained` or `original`), not by `model.*` keys.
CHECKPOINT_SIZED = SPEECH_CLASSIFIERS + ("videomae",)
# The unimodal classifier architectures: the modality each reads, what it
# is, and the datasets it takes (the config check's and the builder's
# words).
UNIMODAL_ARCHS = {
    **{a: ("text", "a text classifier", "a text classification dataset")
       for a in TEXT_CLASSIFIERS},
    **{a: ("image", "an image classifier",
           "an image classification dataset") for a in IMAGE_CLASSIFIERS},
    **{a: ("audio", "a speech classifier",
           "an audio classification dataset") for a in SPEECH_CLASSIFIERS},
    "videomae": ("video", "a video classifier",
                 "a video classification dataset"),
}
_EXAMPLES = {"hubert": "facebook/hubert-base-ls960",
             "wav2vec2": "facebook/wav2vec2-base",
             "videomae": "MCG-NJU/videomae-base"}


def _unet_sizes(config) -> None:
  m = config.model
  if m.arch not in TEXT_TO_IMAGE_MODELS:
    return
  levels = len(m.unet_channels)
  problems = [f"model.unet_channels {c} is not a multiple of "
              f"model.unet_heads ({m.unet_heads}) and of its group norm's "
              f"{min(8, c)} groups" for c in m.unet_channels
              if c % m.unet_heads or c % min(8, c)]
  problems += [f"model.unet_attention_levels names level {i}, but there "
               f"are {levels}" for i in m.unet_attention_levels
               if i >= levels]
  if config.data.image_size % 2 ** (levels - 1):
    problems.append(f"data.image_size ({config.data.image_size}) must be a "
                    f"multiple of {2 ** (levels - 1)} (each of the "
                    f"{levels} levels but the last halves it)")
  if m.text_width % m.text_heads:
    problems.append(f"model.text_width ({m.text_width}) must be a multiple "
                    f"of model.text_heads ({m.text_heads})")
  if problems:
    raise errors.ConfigError("; ".join(problems))


def _widths_and_depths(config) -> None:
  m = config.model
  _unet_sizes(config)
  if m.vision_pretrained and (m.arch not in IMAGE_LANGUAGE_MODELS
                              or not m.pretrained):
    raise errors.ConfigError(
        "model.vision_pretrained joins a CLIP or BLIP vision tower to the "
        "language model of model.pretrained: set model.arch = 'llava' and "
        "model.pretrained to a Llama-layout checkpoint, or leave it empty")
  if m.arch in LANGUAGE_MODELS + IMAGE_LANGUAGE_MODELS and not (
      m.pretrained or m.original) and (
      m.text_width % m.text_heads
      or m.text_heads % (m.kv_heads or m.text_heads)):  # T5: kv_heads 0
    raise errors.ConfigError(
        f"model.text_width ({m.text_width}) must be a multiple of "
        f"model.text_heads ({m.text_heads}), and model.text_heads of "
        f"model.kv_heads ({m.kv_heads})")
  if m.arch in CHECKPOINT_SIZED and not (m.pretrained or m.original):
    raise errors.ConfigError(
        f"model.arch = {m.arch!r} is sized by its checkpoint's config.json: "
        f"set model.pretrained (e.g. a download of {_EXAMPLES[m.arch]}) or "
        "model.original")
  if m.arch != "resnet":
    return
  if len(m.resnet_widths) != len(m.resnet_depths):
    raise errors.ConfigError(
        f"model.resnet_widths gives {len(m.resnet_widths)} stage(s) and "
        f"model.resnet_depths {len(m.resnet_depths)}; give both per stage")
  if m.resnet_block == "bottleneck" and any(w % 4 for w in m.resnet_widths):
    raise errors.ConfigError(
        f"model.resnet_widths = {tuple(m.resnet_widths)}: bottleneck blocks "
        "work at a quarter of the width, so every width is a multiple of 4")


_STAGES = Check(positive_ints, "{key} must be a tuple of positive integers, "
                "one per stage, got {value!r}")
_BOOL = Check(lambda v: isinstance(v, bool),
              "{key} must be True or False, got {value!r}")

MODEL = Section("model", {
    "arch": Key("clip", "the model: `clip` (the dual encoder with an "
                "ALBEF-style fusion encoder; CLIP checkpoints), `blip` "
                "(BLIP's retrieval model, its text encoder the fusion; BLIP "
                "retrieval checkpoints; retrieval tasks) or `vilt` (ViLT's "
                "single-stream transformer, sized by the `fusion_*` keys, "
                "and its classifier; ViLT classification checkpoints; "
                "image-text classification tasks) or `albef` (ALBEF: "
                "`text_layers` text-only BERT layers, then `fusion_layers` "
                "with cross-attention; ALBEF .pth checkpoints; retrieval, "
                "one-image classification as SNLI-VE, and two-image "
                "classification as NLVR2, whose fusion layers are pairs, "
                "one per image) or `bert`, `roberta`, `distilbert` (a "
                "BERT-family sequence classifier sized by the `text_*` "
                "keys; Hugging Face checkpoints; unimodal text "
                "classification tasks) or `vit` (Hugging Face's ViT "
                "classifier sized by the `vision_*` keys; unimodal image "
                "classification tasks) or `resnet` (Hugging Face's ResNet "
                "classifier sized by the `resnet_*` keys, its batch-norm "
                "statistics frozen; unimodal image classification tasks) "
                "or `wav2vec2`, `hubert` (Hugging Face's keyword-spotting "
                "classifiers, sized by the config.json of `pretrained` or "
                "`original`, which must be set; unimodal audio tasks) or "
                "`videomae` (Hugging Face's VideoMAE classifier, sized "
                "the same way, at `image_size`; unimodal video tasks) "
                "or `llama` (a decoder-only language model in the Llama "
                "layout, sized by the `text_*` keys, `kv_heads` and "
                "`rope_theta`, or by the config.json of `pretrained`: "
                "Llama, Qwen2, Mistral, Phi-3; text generation tasks) "
                "or `t5` (a T5 encoder-decoder, flan-t5's layout, sized by "
                "the `text_*` keys or the config.json of `pretrained`; "
                "text generation tasks) or `llava` (BLIP's ViT of the "
                "`vision_*` keys, a projector and a Llama-layout decoder of "
                "the `text_*` keys, or a LLaVA checkpoint's CLIP tower, "
                "projector and decoder, sized by its config.json; "
                "image-conditioned generation tasks) or `unet` (a "
                "text-conditioned diffusion UNet, the `unet_*` keys, with "
                "a text tower of the `text_*` keys; text-to-image tasks)",
                one_of(("clip", "blip", "vilt", "albef") + IMAGE_CLASSIFIERS
                       + TEXT_CLASSIFIERS + CHECKPOINT_SIZED
                       + LANGUAGE_MODELS + IMAGE_LANGUAGE_MODELS
                       + TEXT_TO_IMAGE_MODELS)),
    **{k: Key(_TINY[k], doc, _CHECKS.get(k))
       for k, doc in _ARCHITECTURE.items()},
    "text_positions": Key(0, "`blip`, `vilt`, `albef`, BERT family: the "
                          "text position embeddings (BLIP's, ALBEF's and "
                          "BERT's: 512, ViLT's: 40); 0: context_length",
                          int_at_least(0, "0: context_length")),
    "preset": Key("tiny", "the size preset the architecture keys start "
                  "from: `tiny`, `vit_b32`, `vit_b16` (OpenAI CLIP shapes)",
                  one_of(presets.PRESETS)),
    "pretrained": Key("", "a checkpoint of `arch` to start from: CLIP (a "
                      "Hugging Face directory or OpenAI/open_clip state "
                      "dict; the image and text towers and the "
                      "temperature), or a Hugging Face BLIP retrieval or "
                      "ViLT classification directory (every weight); its "
                      "tokenizer replaces the embedded one; empty: random "
                      "initialisation"),
    "original": Key("", "`blip`, `vilt`, `albef`: a task-fine-tuned "
                    "checkpoint "
                    "of `arch` that is the original model as is (not "
                    "trained here; `pretrained` then starts the retrained "
                    "reference only, as MultiDelete retrains from the "
                    "pretrained weights); empty: the original trains on D "
                    "from `pretrained`"),
    "vision_pretrained": Key("", "`llava` with `pretrained` a "
                             "Llama-layout language model: a Hugging Face "
                             "CLIP or BLIP checkpoint whose vision tower "
                             "joins it (LLaVA's first stage: a fresh "
                             "projector, the image before the prompt); "
                             "empty: the `vision_*` keys' tower"),
    "tokenizer": Key("", "a `tokenizer.json` to use; empty: the "
                     "checkpoint's, the embedded vocabulary, or one trained "
                     "on a real dataset's texts"),
    "mlp_ratio": Key(4.0, "MLP hidden width / model width"),
    "logit_scale_init": Key(float(math.log(1 / 0.07)),
                            "initial contrastive temperature (log 1/0.07)"),
    "dropout_rate": Key(0.0, "dropout (on for the model being trained or "
                        "unlearned)", NONNEGATIVE),
    "dtype": Key("float32", "compute dtype (`bfloat16` for accelerators)",
                 one_of(("float32", "bfloat16"))),
    "graph_layer": Key("gin", "molecule datasets: the graph tower's message "
                       "passing, `gin` (GINE) or `gat` (attention)",
                       one_of(("gin", "gat"))),
    "graph_width": Key(64, "graph tower width (the image tower's keys are "
                       "then ignored)", POSITIVE_INT),
    "graph_layers": Key(3, "graph tower message-passing layers",
                        POSITIVE_INT),
    "graph_heads": Key(4, "graph tower attention heads (`gat` only); "
                       "divides `graph_width`", POSITIVE_INT),
    "sample_rate": Key(8000, "audio datasets: the waveforms' rate in Hz "
                       "(must be the dataset's)", POSITIVE_INT),
    "num_mels": Key(32, "audio datasets: mel bands of the log-mel front "
                    "end", POSITIVE_INT),
    "audio_window": Key(200, "audio datasets: Hann window in samples",
                        POSITIVE_INT),
    "audio_hop": Key(80, "audio datasets: hop in samples", POSITIVE_INT),
    "resnet_block": Key("basic", "`resnet`: `basic` blocks (ResNet-18/34) "
                        "or `bottleneck` (ResNet-50 and deeper)",
                        one_of(("basic", "bottleneck"))),
    "resnet_stem_width": Key(64, "`resnet`: channels of the 7x7 stem",
                             POSITIVE_INT),
    "resnet_widths": Key((64, 128, 256, 512), "`resnet`: each stage's "
                         "output channels (ResNet-50: 256 ... 2048)",
                         _STAGES),
    "resnet_depths": Key((2, 2, 2, 2), "`resnet`: blocks per stage "
                         "(ResNet-34 and -50: (3, 4, 6, 3))", _STAGES),
    "resnet_downsample_first_stage": Key(
        False, "`resnet`: the first stage halves the resolution too "
        "(False in microsoft/resnet-*)", _BOOL),
    "resnet_downsample_in_bottleneck": Key(
        False, "`resnet`: a bottleneck block's stride on its first 1x1 "
        "convolution, not its 3x3 (False in microsoft/resnet-*)", _BOOL),
    "kv_heads": Key(0, "`llama`: key-value heads shared by the query "
                    "heads (grouped-query attention); 0: `text_heads`; "
                    "divides `text_heads`", int_at_least(0, "0: text_heads")),
    "rope_theta": Key(10000.0, "`llama`: the rotary positions' base",
                      Check(lambda v: isinstance(v, (int, float)) and v > 0,
                            "{key} must be a number > 0, got {value!r}")),
    "remat": Key(False, "`llama`, `t5`: rematerialise each layer in the "
                 "backward pass (`jax.checkpoint`): less memory, more "
                 "compute, the same numbers", _BOOL),
    "unet_channels": Key((32, 64), "`unet`: channels per resolution "
                         "level (each level but the last halves the "
                         "image)", _STAGES),
    "unet_attention_levels": Key((1,), "`unet`: the levels with self- and "
                                 "cross-attention to the caption (the "
                                 "middle always has it)", Check(
                                     lambda v: isinstance(v, (tuple, list))
                                     and all(isinstance(i, int) and i >= 0
                                             for i in v),
                                     "{key} must be a tuple of level "
                                     "indices, got {value!r}")),
    "unet_heads": Key(4, "`unet`: attention heads", POSITIVE_INT),
    "noise_schedule": Key("cosine", "`unet`: DDPM's `linear` betas or the "
                          "`cosine` alpha-bar (`diffusion.schedule`)",
                          one_of(("linear", "cosine"))),
    "diffusion_steps": Key(1000, "`unet`: the forward process's timesteps",
                           POSITIVE_INT),
    "prediction": Key("epsilon", "`unet`: what the model predicts: the "
                      "noise (`epsilon`) or the velocity (`v`)",
                      one_of(("epsilon", "v"))),
    "cfg_dropout": Key(0.1, "`unet`: the share of training captions "
                       "replaced by the null context (classifier-free "
                       "guidance)", Check(
                           lambda v: isinstance(v, (int, float))
                           and 0 <= v < 1,
                           "{key} must be in [0, 1), got {value!r}")),
    "tubelet_size": Key(2, "video datasets: frames per tubelet token",
                        POSITIVE_INT),
}, rules=(_shapes, _widths_and_depths))

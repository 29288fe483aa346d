"""Models: a CLIP-style dual encoder and a graph-text encoder (Jraph), both
with a fusion encoder, BLIP's and ALBEF's retrieval models, ViLT's
image(s)-and-text classifier, unimodal classifiers on their towers,
BERT-family text classifiers, Hugging Face's ViT and ResNet image
classifiers, wav2vec 2.0 and HuBERT speech classifiers, the VideoMAE
video classifier, and size presets."""

from __future__ import annotations

import dataclasses
import os

import jax.numpy as jnp

from mmul_jax.models.albef import AlbefClassifier
from mmul_jax.models.albef import AlbefRetrieval
from mmul_jax.models.bert_classifier import BertClassifier
from mmul_jax.models.bert_classifier import LAYOUTS as BERT_LAYOUTS
from mmul_jax.models.blip import BlipRetrieval
from mmul_jax.models.classifiers import CLASSIFIERS
from mmul_jax.models.classifiers import ImageClassifier
from mmul_jax.models.classifiers import TextClassifier
from mmul_jax.models.clip import DualEncoder
from mmul_jax.models.graph import GraphEncoder
from mmul_jax.models.graph_text import GraphTextEncoder
from mmul_jax.models.llama import LlamaConfig
from mmul_jax.models.llama import LlamaForCausalLM
from mmul_jax.models.llava import VisionLanguageModel
from mmul_jax.models.unet import TextToImageUNet
from mmul_jax.models.t5 import T5Config
from mmul_jax.models.t5 import T5ForConditionalGeneration
from mmul_jax.models.presets import PRESETS
from mmul_jax.models.presets import preset
from mmul_jax.models.config_keys import SPEECH_CLASSIFIERS
from mmul_jax.models.config_keys import UNIMODAL_ARCHS
from mmul_jax.models.resnet_classifier import ResnetClassifier
from mmul_jax.models.speech_classifier import SpeechClassifier
from mmul_jax.models.videomae_classifier import VideomaeClassifier
from mmul_jax.models.vilt import ViltClassifier
from mmul_jax.models.vit_classifier import VitClassifier

_MODULES = {"image": DualEncoder, "graph": GraphTextEncoder}


def build(model_config, *, modality: str = "image", unimodal: bool = False,
          **task):
  """The module described by a config's `model` block for a dataset of
  `modality` ("image": `DualEncoder`; "graph": `GraphTextEncoder`, which
  reads the `graph_*` keys instead of the image tower's; with `unimodal`,
  the modality's classifier, `CLASSIFIERS`); `task` adds what the dataset
  decides (`num_classes`, `num_images` of a classification task)."""
  arch = dict(model_config).get("arch", "clip")
  if arch in TEXT_TO_IMAGE_MODELS:
    if task.get("text_to_image"):
      return TEXT_TO_IMAGE_MODELS[arch](model_config)
    raise ValueError(f"model.arch = {arch!r} is a text-to-image diffusion "
                     "model: text-to-image tasks only")
  if task.get("text_to_image"):
    raise ValueError(f"model.arch = {arch!r} cannot generate images: "
                     "text-to-image tasks take model.arch = 'unet'")
  if arch in IMAGE_LANGUAGE_MODELS:
    if task.get("image_generation"):
      return IMAGE_LANGUAGE_MODELS[arch](model_config)
    raise ValueError(f"model.arch = {arch!r} is an image-conditioned "
                     "language model: image-conditioned generation tasks "
                     "only")
  if arch in LANGUAGE_MODELS:
    if task.get("generation"):
      return LANGUAGE_MODELS[arch](model_config)
    raise ValueError(f"model.arch = {arch!r} is a language model: text "
                     "generation tasks only")
  if arch in UNIMODAL_ARCHS:
    reads, what, _ = UNIMODAL_ARCHS[arch]
    if not unimodal or modality != reads or not task.get("num_classes"):
      raise ValueError(f"model.arch = {arch!r} is {what}: unimodal {reads} "
                       "classification tasks only")
    return _UNIMODAL_BUILDERS[arch](model_config, **task)
  if arch == "albef" and task.get("num_classes"):
    if unimodal or modality != "image":
      raise ValueError("model.arch = 'albef' reads images and text")
    return build_albef(model_config, **task)
  if arch in RETRIEVAL_ONLY:
    if unimodal or modality != "image" or task:
      raise ValueError(f"model.arch = {arch!r} is a retrieval model: "
                       "image-text retrieval tasks only")
    return RETRIEVAL_ONLY[arch](model_config)
  if arch == "vilt":
    if unimodal or modality != "image" or not task.get("num_classes"):
      raise ValueError("model.arch = 'vilt' is ViLT's image(s)-and-text "
                       "classifier: image-text classification tasks only")
    return build_vilt(model_config, **task)
  cls = (CLASSIFIERS if unimodal else _MODULES)[modality]
  fields = {f.name for f in dataclasses.fields(cls)}
  kwargs = {k: v for k, v in dict(model_config).items() if k in fields}
  kwargs.update(task)
  kwargs["dtype"] = jnp.dtype(kwargs.get("dtype", "float32"))
  return cls(**kwargs)


def build_blip(model_config) -> BlipRetrieval:
  """`BlipRetrieval` from a config's `model` block: the towers' sizes, MLPs
  of `mlp_ratio` x their width, `text_positions` (0: `context_length`),
  `eot_id` BLIP's [SEP]."""
  c = dict(model_config)
  return BlipRetrieval(
      embed_dim=c["embed_dim"], image_size=c["image_size"],
      patch_size=c["patch_size"], vision_width=c["vision_width"],
      vision_layers=c["vision_layers"], vision_heads=c["vision_heads"],
      vision_mlp_dim=round(c["mlp_ratio"] * c["vision_width"]),
      vocab_size=c["vocab_size"],
      context_length=c.get("text_positions") or c["context_length"],
      text_width=c["text_width"], text_layers=c["text_layers"],
      text_heads=c["text_heads"],
      text_mlp_dim=round(c["mlp_ratio"] * c["text_width"]),
      eot_id=c["eot_id"], logit_scale_init=c["logit_scale_init"],
      dtype=jnp.dtype(c.get("dtype", "float32")))


def build_albef(model_config, *, num_classes: int = 0, num_images: int = 1):
  """`AlbefRetrieval` from a config's `model` block, or with `num_classes`
  (a classification task's) `AlbefClassifier`: `text_layers` without and
  `fusion_layers` with cross-attention, both `text_width` wide, MLPs of
  `mlp_ratio` x their width, `text_positions` (0: `context_length`),
  `eot_id` [SEP]."""
  c = dict(model_config)
  shared = dict(
      image_size=c["image_size"], patch_size=c["patch_size"],
      vision_width=c["vision_width"], vision_layers=c["vision_layers"],
      vision_heads=c["vision_heads"],
      vision_mlp_dim=round(c["mlp_ratio"] * c["vision_width"]),
      vocab_size=c["vocab_size"],
      context_length=c.get("text_positions") or c["context_length"],
      text_width=c["text_width"], text_layers=c["text_layers"],
      fusion_layers=c["fusion_layers"], text_heads=c["text_heads"],
      text_mlp_dim=round(c["mlp_ratio"] * c["text_width"]),
      eot_id=c["eot_id"], dtype=jnp.dtype(c.get("dtype", "float32")))
  if num_classes:
    return AlbefClassifier(num_classes=num_classes, num_images=num_images,
                           **shared)
  return AlbefRetrieval(embed_dim=c["embed_dim"],
                        logit_scale_init=c["logit_scale_init"], **shared)


# The builders of the architectures with a retrieval model.
RETRIEVAL_ONLY = {"blip": build_blip, "albef": build_albef}


def build_vilt(model_config, *, num_classes: int,
               num_images: int = 1) -> ViltClassifier:
  """`ViltClassifier` from a config's `model` block: its one transformer is
  the fusion encoder (`fusion_*`, MLP of `mlp_ratio` x its width),
  `text_positions` (0: `context_length`), `eot_id` ViLT's [SEP]; the task
  gives `num_classes` and `num_images`."""
  c = dict(model_config)
  return ViltClassifier(
      num_classes=num_classes, num_images=num_images,
      vocab_size=c["vocab_size"],
      context_length=c.get("text_positions") or c["context_length"],
      width=c["fusion_width"], num_layers=c["fusion_layers"],
      num_heads=c["fusion_heads"],
      mlp_dim=round(c["mlp_ratio"] * c["fusion_width"]),
      image_size=c["image_size"], patch_size=c["patch_size"],
      eot_id=c["eot_id"], dtype=jnp.dtype(c.get("dtype", "float32")))


def build_bert(model_config, *, num_classes: int) -> BertClassifier:
  """`BertClassifier` of layout `model.arch` from a config's `model`
  block: `text_*` sizes, MLP of `mlp_ratio` x the width,
  `text_positions` (0: `context_length`; RoBERTa's two reserved rows
  come on top), `eot_id` [SEP] or </s>."""
  c = dict(model_config)
  offset = 2 if c["arch"] == "roberta" else 0  # padding id 1, + 1
  return BertClassifier(
      layout=c["arch"], num_classes=num_classes, vocab_size=c["vocab_size"],
      max_positions=(c.get("text_positions") or c["context_length"])
      + offset, width=c["text_width"], num_layers=c["text_layers"],
      num_heads=c["text_heads"],
      mlp_dim=round(c["mlp_ratio"] * c["text_width"]), eot_id=c["eot_id"],
      position_offset=offset, dtype=jnp.dtype(c.get("dtype", "float32")))


def build_vit(model_config, *, num_classes: int) -> VitClassifier:
  """`VitClassifier` (Hugging Face's ViT) from a config's `model` block:
  the `vision_*` sizes, `patch_size`, `image_size`, MLP of `mlp_ratio` x
  the width."""
  c = dict(model_config)
  return VitClassifier(
      num_classes=num_classes, image_size=c["image_size"],
      patch_size=c["patch_size"], width=c["vision_width"],
      num_layers=c["vision_layers"], num_heads=c["vision_heads"],
      mlp_dim=round(c["mlp_ratio"] * c["vision_width"]),
      dtype=jnp.dtype(c.get("dtype", "float32")))


def build_resnet(model_config, *, num_classes: int) -> ResnetClassifier:
  """`ResnetClassifier` (Hugging Face's ResNet) from a config's `model`
  block: the `resnet_*` keys."""
  c = dict(model_config)
  return ResnetClassifier(
      num_classes=num_classes, stem_width=c["resnet_stem_width"],
      widths=tuple(c["resnet_widths"]), depths=tuple(c["resnet_depths"]),
      bottleneck=c["resnet_block"] == "bottleneck",
      downsample_in_first_stage=c["resnet_downsample_first_stage"],
      downsample_in_bottleneck=c["resnet_downsample_in_bottleneck"],
      dtype=jnp.dtype(c.get("dtype", "float32")))


def _checkpoint_architecture(importer: str, model_config):
  """`pretrained.<importer>.model_config` of `model.pretrained`, else
  `model.original`; None when neither is set."""
  c = dict(model_config)
  path = os.path.expanduser(c.get("pretrained") or c.get("original") or "")
  if not path:
    return None
  # pretrained's importers import the models: read the sizes lazily.
  import importlib  # pylint: disable=g-import-not-at-top
  return importlib.import_module(
      f"mmul_jax.pretrained.{importer}").model_config(path)


def _checkpoint_sized(cls, importer: str, model_config, num_classes: int):
  """`cls` sized by the config.json of `model.pretrained`, else
  `model.original` (`pretrained.<importer>.model_config`)."""
  c = dict(model_config)
  sizes = _checkpoint_architecture(importer, c)
  if sizes is None:
    raise ValueError(f"model.arch = {c['arch']!r} is sized by its "
                     "checkpoint: set model.pretrained or model.original")
  return cls(**{**sizes, "num_classes": num_classes},
             dtype=jnp.dtype(c.get("dtype", "float32")))


def build_speech(model_config, *, num_classes: int) -> SpeechClassifier:
  """`SpeechClassifier` (wav2vec 2.0 or HuBERT) sized by its checkpoint."""
  return _checkpoint_sized(SpeechClassifier, "speech_weights", model_config,
                           num_classes)


def build_videomae(model_config, *,
                   num_classes: int) -> VideomaeClassifier:
  """`VideomaeClassifier` sized by its checkpoint."""
  return _checkpoint_sized(VideomaeClassifier, "videomae_weights",
                           model_config, num_classes)


def _llama_config(model_config) -> LlamaConfig:
  """The decoder's `LlamaConfig` from the `text_*` keys (`build_llama`)."""
  c = dict(model_config)
  width, heads = c["text_width"], c["text_heads"]
  return LlamaConfig(
      vocab_size=c["vocab_size"], hidden_size=width,
      intermediate_size=round(c["mlp_ratio"] * width),
      num_layers=c["text_layers"], num_heads=heads,
      num_kv_heads=c.get("kv_heads") or heads, head_dim=width // heads,
      max_positions=c.get("text_positions") or c["context_length"],
      rope_theta=float(c.get("rope_theta", 10000.0)))


def build_llama(model_config) -> LlamaForCausalLM:
  """`LlamaForCausalLM` sized by the config.json of `model.pretrained`
  (else `model.original`) where one is set, else by the `text_*` keys:
  `text_width` wide, `text_heads` query heads sharing `kv_heads` key-value
  heads (0: as many), an MLP of `mlp_ratio` x the width, `rope_theta`;
  `remat` rematerialises each layer in the backward pass."""
  c = dict(model_config)
  dtype = jnp.dtype(c.get("dtype", "float32"))
  cfg = (_checkpoint_architecture("llama_weights", c)
         or _llama_config(model_config))
  return LlamaForCausalLM(cfg, dtype=dtype, remat=bool(c.get("remat")))


def build_llava(model_config) -> VisionLanguageModel:
  """`VisionLanguageModel` sized by the config.json of `model.pretrained`
  (else `model.original`) where that is a LLaVA model (LLaVA-1.5's
  layout: CLIP's tower, image tokens at the prompt's placeholders); else
  the vision tower of the CLIP or BLIP checkpoint `model.vision_pretrained`
  or BLIP's ViT sized by `image_size`, `patch_size` and the `vision_*`
  keys (MLP of `mlp_ratio` x its width), a projector, and the
  Llama-layout decoder of a language-model checkpoint or of the `text_*`
  keys (`build_llama`'s), the image before the prompt; `remat` as
  there."""
  c = dict(model_config)
  kw = dict(dtype=jnp.dtype(c.get("dtype", "float32")),
            remat=bool(c.get("remat")))
  path = os.path.expanduser(c.get("pretrained") or c.get("original") or "")
  import importlib  # pylint: disable=g-import-not-at-top
  weights = importlib.import_module("mmul_jax.pretrained.llava_weights")
  if path and weights.is_llava(path):
    return VisionLanguageModel(**weights.model_config(path), **kw)
  cfg = (_checkpoint_architecture("llama_weights", c)
         or _llama_config(model_config))
  if c.get("vision_pretrained"):
    vision = weights.vision_sizes(os.path.expanduser(c["vision_pretrained"]))
  else:
    vision = dict(image_size=c["image_size"], patch_size=c["patch_size"],
                  vision_width=c["vision_width"],
                  vision_layers=c["vision_layers"],
                  vision_heads=c["vision_heads"],
                  vision_mlp_dim=round(c["mlp_ratio"] * c["vision_width"]))
  return VisionLanguageModel(cfg, **vision, **kw)


def build_t5(model_config) -> T5ForConditionalGeneration:
  """`T5ForConditionalGeneration` sized by the config.json of
  `model.pretrained` (else `model.original`) where one is set, else by
  the `text_*` keys: `text_layers` encoder and decoder blocks each,
  `text_width` wide, `text_heads` heads of `text_width / text_heads`,
  a gated-GELU MLP of `mlp_ratio` x the width (flan-t5's), an untied
  head; `remat` rematerialises each block in the backward pass."""
  c = dict(model_config)
  dtype = jnp.dtype(c.get("dtype", "float32"))
  cfg = _checkpoint_architecture("t5_weights", c)
  if cfg is None:
    width, heads = c["text_width"], c["text_heads"]
    cfg = T5Config(
        vocab_size=c["vocab_size"], d_model=width, d_kv=width // heads,
        d_ff=round(c["mlp_ratio"] * width), num_layers=c["text_layers"],
        num_decoder_layers=c["text_layers"], num_heads=heads, gated=True,
        act="gelu_new", tie_embeddings=False, scale_decoder_outputs=False)
  return T5ForConditionalGeneration(cfg, dtype=dtype,
                                    remat=bool(c.get("remat")))


def build_unet(model_config) -> TextToImageUNet:
  """`TextToImageUNet` from the `unet_*` keys, its text tower (CLIP's
  layout: `model.pretrained` may be a CLIP checkpoint) from the `text_*`
  keys (`vocab_size`, `context_length`, `eot_id`, `embed_dim`,
  `mlp_ratio`, `activation`, `layer_norm_eps`)."""
  c = dict(model_config)
  return TextToImageUNet(
      image_size=c["image_size"], channels=tuple(c["unet_channels"]),
      attention_levels=tuple(c["unet_attention_levels"]),
      num_heads=c["unet_heads"], vocab_size=c["vocab_size"],
      context_length=c["context_length"], text_width=c["text_width"],
      text_layers=c["text_layers"], text_heads=c["text_heads"],
      eot_id=c["eot_id"], embed_dim=c["embed_dim"],
      mlp_ratio=c["mlp_ratio"], activation=c["activation"],
      layer_norm_eps=c["layer_norm_eps"],
      dtype=jnp.dtype(c.get("dtype", "float32")))


# The language models' builders, by `model.arch` (generation tasks).
LANGUAGE_MODELS = {"llama": build_llama, "t5": build_t5}
# Image-conditioned language models (image-conditioned generation tasks).
IMAGE_LANGUAGE_MODELS = {"llava": build_llava}
# Text-to-image diffusion models (text-to-image tasks).
TEXT_TO_IMAGE_MODELS = {"unet": build_unet}

# The builders of the unimodal image classifiers, by `model.arch`.
IMAGE_CLASSIFIERS = {"vit": build_vit, "resnet": build_resnet}
# Every unimodal classifier's builder, by `model.arch` (`UNIMODAL_ARCHS`).
_UNIMODAL_BUILDERS = {**{a: build_bert for a in BERT_LAYOUTS},
                      **IMAGE_CLASSIFIERS,
                      **{a: build_speech for a in SPEECH_CLASSIFIERS},
                      "videomae": build_videomae}
assert set(_UNIMODAL_BUILDERS) == set(UNIMODAL_ARCHS)

_BERT_KEYS = ("vocab_size", "context_length", "text_positions", "text_width",
              "text_layers", "text_heads", "eot_id", "mlp_ratio", "dtype")

# The `model.*` keys each architecture but `clip` reads (what a run's
# model fingerprint holds).
ARCH_KEYS = {
    "blip": ("embed_dim", "image_size", "patch_size", "vision_width",
             "vision_layers", "vision_heads", "vocab_size", "context_length",
             "text_positions", "text_width", "text_layers", "text_heads",
             "eot_id", "mlp_ratio", "logit_scale_init", "dtype"),
    "albef": ("embed_dim", "image_size", "patch_size", "vision_width",
              "vision_layers", "vision_heads", "vocab_size",
              "context_length", "text_positions", "text_width",
              "text_layers", "fusion_layers", "text_heads", "eot_id",
              "mlp_ratio", "logit_scale_init", "dtype"),
    "vilt": ("image_size", "patch_size", "fusion_width", "fusion_layers",
             "fusion_heads", "vocab_size", "context_length",
             "text_positions", "eot_id", "mlp_ratio", "dtype"),
    **{layout: _BERT_KEYS for layout in BERT_LAYOUTS},
    "vit": ("image_size", "patch_size", "vision_width", "vision_layers",
            "vision_heads", "mlp_ratio", "dtype"),
    # Sized by the checkpoint (`model.pretrained` / `original`).
    **{root: ("pretrained", "original", "dtype")
       for root in SPEECH_CLASSIFIERS},
    "videomae": ("pretrained", "original", "image_size", "dtype"),
    "llama": ("pretrained", "original", "vocab_size", "context_length",
              "text_positions", "text_width", "text_layers", "text_heads",
              "kv_heads", "mlp_ratio", "rope_theta", "remat", "dtype"),
    "llava": ("pretrained", "original", "vision_pretrained", "image_size",
              "patch_size",
              "vision_width", "vision_layers",
              "vision_heads", "vocab_size", "context_length",
              "text_positions", "text_width", "text_layers", "text_heads",
              "kv_heads", "mlp_ratio", "rope_theta", "remat", "dtype"),
    "unet": ("pretrained", "image_size", "unet_channels",
             "unet_attention_levels", "unet_heads", "noise_schedule",
             "diffusion_steps", "prediction", "cfg_dropout", "vocab_size",
             "context_length", "text_width", "text_layers", "text_heads",
             "eot_id", "embed_dim", "mlp_ratio", "activation",
             "layer_norm_eps", "dtype"),
    "t5": ("pretrained", "original", "vocab_size", "text_width",
           "text_layers", "text_heads", "mlp_ratio", "remat", "dtype"),
    "resnet": ("resnet_block", "resnet_stem_width", "resnet_widths",
               "resnet_depths", "resnet_downsample_first_stage",
               "resnet_downsample_in_bottleneck", "dtype"),
}


__all__ = ["ARCH_KEYS", "AlbefClassifier", "AlbefRetrieval", "BERT_LAYOUTS",
           "BertClassifier", "BlipRetrieval", "CLASSIFIERS",
           "DualEncoder", "GraphEncoder", "GraphTextEncoder",
           "IMAGE_CLASSIFIERS", "IMAGE_LANGUAGE_MODELS", "ImageClassifier",
           "LANGUAGE_MODELS",
           "LlamaConfig",
           "LlamaForCausalLM", "PRESETS",
           "RETRIEVAL_ONLY", "ResnetClassifier", "SPEECH_CLASSIFIERS",
           "SpeechClassifier", "T5Config", "T5ForConditionalGeneration",
           "TEXT_TO_IMAGE_MODELS", "TextToImageUNet",
           "TextClassifier", "VideomaeClassifier", "VisionLanguageModel",
           "ViltClassifier", "VitClassifier", "build", "build_albef",
           "build_bert", "build_blip", "build_llama", "build_llava", "build_t5", "build_resnet", "build_speech",
           "build_unet", "build_videomae", "build_vilt",
           "build_vit", "preset"]

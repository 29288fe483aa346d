"""Every config key, its default, and the checks run before any compute.

Each section's keys (default, one-line doc, check) are a table beside the
code that reads them (`config_keys.Section`: data/, models/, training/,
unlearn/, evaluation/, tuning/; a method's hyperparameters are its
`Method.defaults`). Config files (`configs/*.py`) start from
`default_config()` and change values; `validate()` walks the tables,
rejecting keys that are not defined (typos) and values out of range, each
with a one-line message that says what to do. docs/configs.md is generated
from the tables (`reference()`; a test fails when they drift).
"""

from __future__ import annotations

import difflib
import math

import ml_collections

from mmul_jax import config_keys
from mmul_jax import errors
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import Section
from mmul_jax.data import config_keys as data_keys
from mmul_jax.data import datasets
from mmul_jax.evaluation import config_keys as eval_keys
from mmul_jax.evaluation import evaluators
from mmul_jax.models import config_keys as model_keys
from mmul_jax.models import presets
from mmul_jax.robustness import config_keys as robustness_keys
from mmul_jax.training import config_keys as training_keys
from mmul_jax.tuning import config_keys as tuning_keys
from mmul_jax.unlearn import config_keys as unlearn_keys


ConfigError = errors.ConfigError
IMAGE_CHANNELS = data_keys.IMAGE_CHANNELS

TOP = Section("", {
    "seed": Key(0, "initialisation, data order and step rngs "
                "(`fold_in(seed, step)`)"),
    "workdir": Key("", "where checkpoints, deletion manifests and results "
                   "go; the scripts' `--workdir` wins; empty: "
                   "`runs/<config file name>`"),
    "tensorboard": Key(True, "write TensorBoard events under "
                       "`WORKDIR/tb/<phase>`", config_keys.one_of(
                           (True, False))),
})
METHOD = Section("method", {
    "name": Key("mmul", "the unlearning method (`methods.METHODS`; "
                "docs/methods.md); `method.<name>.*` are its "
                "hyperparameters, only the selected method's read"),
})
# In the reference's order; the method's hyperparameters follow METHOD.
SECTIONS = (TOP, data_keys.DATA, data_keys.FILES, model_keys.MODEL,
            data_keys.DELETION,
            training_keys.TRAIN, unlearn_keys.UNLEARN, METHOD,
            training_keys.DISTRIBUTED, training_keys.PARALLEL,
            unlearn_keys.SHADOW, robustness_keys.ROBUSTNESS,
            unlearn_keys.SEQUENTIAL, tuning_keys.TUNE, unlearn_keys.BENCHMARK,
            eval_keys.EVAL)


def default_config() -> ml_collections.ConfigDict:
  """Every config key with its default; config files start from it.

  `config.method.<name>` holds the defaults of every method registered in
  `methods.METHODS` when it is called.

  Returns:
    A fresh `ml_collections.ConfigDict` (the demo's dataset and MMUL);
    changing it changes no later call's.
  """
  c = ml_collections.ConfigDict(TOP.defaults())
  for section in SECTIONS[1:]:
    parent, _, name = section.name.rpartition(".")  # data.files: in data
    node = c[parent] if parent else c
    node[name] = ml_collections.ConfigDict(section.defaults())
  for name, method in methods.METHODS.items():
    if method.defaults:
      c.method[name] = dict(method.defaults)
  return c


# An embedded dataset and model per task kind that the default retrieval
# demo is not: where a method that runs only there is checked.
_EMBEDDED_BY_KIND = {
    "generation": {"data.name": "authors", "model.arch": "llama"},
    "image_generation": {"data.name": "persons", "model.arch": "llava"},
    "text_to_image": {"data.name": "shapes_t2i", "model.arch": "unet",
                      "data.mean": (0.5, 0.5, 0.5),
                      "data.std": (0.5, 0.5, 0.5)}}


def default_config_for(method: str) -> ml_collections.ConfigDict:
  """`default_config()` with `method` selected, on the default dataset or,
  for a method that runs on other task kinds only (the language-model
  methods, `mmul_gen`, `esd`), on an embedded dataset of its first
  kind."""
  c = default_config()
  c.method.name = method
  m = methods.get(method)
  kind = tasks.get(datasets.spec_of(c.data).task).name
  if not m.runs_on(kind):
    c.update_from_flattened_dict(next(
        v for k, v in _EMBEDDED_BY_KIND.items() if m.runs_on(k)))
  return c


def use_preset(c: ml_collections.ConfigDict, name: str) -> None:
  """Sets every architecture key of `c.model` to the named size preset."""
  c.model.update(presets.preset(name))
  c.model.preset = name


# CLIP's image normalisation (per RGB channel).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def flatten(cfg, prefix=""):
  out = {}
  for k, v in cfg.items():
    key = f"{prefix}{k}"
    if isinstance(v, ml_collections.ConfigDict):
      out.update(flatten(v, key + "."))
    else:
      out[key] = v
  return out


def known_keys() -> set[str]:
  """Every dotted leaf key of the schema, e.g. "train.learning_rate"."""
  return set(flatten(default_config()))


def unknown_key_message(key: str, known=None) -> str:
  """"unknown config key ..." with the closest valid keys."""
  known = known_keys() if known is None else known
  close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.75)
  hint = (f"did you mean {' or '.join(repr(k) for k in close)}? "
          if close else "")
  return (f"unknown config key {key!r}; {hint}see the configs reference in "
          "docs/configs.md for the valid keys")


# The generative task kinds and the only architectures that run them.
_GENERATIVE = (
    (model_keys.LANGUAGE_MODELS, "generation",
     "text generation datasets take a language model"),
    (model_keys.IMAGE_LANGUAGE_MODELS, "image_generation",
     "image-conditioned generation datasets take an image-conditioned "
     "language model"),
    (model_keys.TEXT_TO_IMAGE_MODELS, "text_to_image",
     "text-to-image datasets take a text-to-image diffusion model"))


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises `ConfigError` on the first problem found.

  Unknown keys (typos), missing keys, values out of range or not among a
  key's choices, and settings the dataset, its task, its input type, the
  metric families or the selected method cannot run with.

  Args:
    config: the run config, built from `default_config()`.

  Raises:
    ConfigError: the first problem, in one line that says what to do.
  """
  known = known_keys()
  given = flatten(config)
  for key in given:
    if key not in known:
      raise ConfigError(unknown_key_message(key, known))
  for key, v in given.items():
    values = v if isinstance(v, (tuple, list)) else (v,)
    if any(isinstance(x, float) and not math.isfinite(x) for x in values):
      raise ConfigError(f"{key} = {v!r} is not a finite number")
  for key in known:
    # Method hyperparameters: only the selected method's, checked below.
    if key not in given and (key == "method.name"
                             or not key.startswith("method.")):
      raise ConfigError(f"config is missing key {key!r}; start config files "
                        "from mmul_jax.config_schema.default_config()")
  for section in SECTIONS:
    section.validate(config)
  spec = datasets.spec_of(config.data)
  features = spec.features
  if (config.deletion.strategy in ("class_skewed", "class")
      or "class_skewed" in config.benchmark.strategies) and (
          "classes" not in features):
    raise ConfigError(f"{config.deletion.strategy} deletion needs a class "
                      "per image; "
                      f"{config.data.name} has none (use the uniform "
                      "strategy)")
  spec.input_type.check(config, spec)
  if spec.check is not None:
    spec.check(config)
  task = tasks.for_dataset(spec)
  if (config.model.arch == "blip" and spec.task != "retrieval") or (
      config.model.arch == "albef" and spec.task not in (
          "retrieval", "classification")):
    raise ConfigError(
        f"model.arch = {config.model.arch!r} is an image-text retrieval "
        f"model; {config.data.name} is a {spec.task} dataset (use "
        "model.arch = 'clip')")
  if config.model.arch == "albef" and len(spec.image_keys) > 2:
    raise ConfigError(
        f"model.arch = 'albef' classifies one image (SNLI-VE) or two "
        f"(NLVR2) with a sentence; {config.data.name} has "
        f"{len(spec.image_keys)} images per example (use model.arch = "
        "'clip')")
  if (config.model.arch == "albef" and len(spec.image_keys) == 2
      and config.model.fusion_layers % 2):
    raise ConfigError(
        f"model.fusion_layers = {config.model.fusion_layers}: ALBEF's "
        "NLVR2 model pairs its fusion layers, one per image (12 in "
        "albef_nlvr_lavis.pt), so their number is even")
  if config.model.arch in model_keys.UNIMODAL_ARCHS:
    reads, what, takes = model_keys.UNIMODAL_ARCHS[config.model.arch]
    if spec.task != "unimodal_classification" or spec.modality != reads:
      raise ConfigError(
          f"model.arch = {config.model.arch!r} is {what}; "
          f"{config.data.name} is not {takes} (use model.arch = 'clip')")
  for archs, kind, what in _GENERATIVE:
    if (config.model.arch in archs) != (spec.task == kind):
      raise ConfigError(
          f"model.arch = {config.model.arch!r} cannot run "
          f"{config.data.name}, a {spec.task} dataset: {what} "
          f"(model.arch = {' or '.join(map(repr, archs))}) and it takes "
          "only them")
  if config.model.arch == "vilt" and spec.task != "classification":
    raise ConfigError(
        f"model.arch = 'vilt' is ViLT's image(s)-and-text classifier; "
        f"{config.data.name} is a {spec.task} dataset (use model.arch = "
        "'clip')")
  evaluators.check(config.eval.extra_metrics, task.outputs)
  methods.check_config(config, set(features), task)


def reference() -> str:
  """The configs reference's table (docs/configs.md): every section's
  keys, the selected method's name followed by a row per registered
  method's hyperparameters."""
  table = config_keys.TABLE_HEADER
  for section in SECTIONS:
    table += config_keys.rows(section)
    if section is METHOD:
      for name, method in methods.METHODS.items():
        if method.defaults:
          values = ", ".join(f"{k}={v!r}" for k, v in method.defaults.items())
          table += config_keys.row(f"method.{name}.*", values,
                                   f"{name}'s hyperparameters "
                                   "(docs/methods.md)")
  return table


def config_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """The options of `--config=FILE:ARG` ("key=value,key=value"), over
  `defaults`, whose keys are the only ones allowed (values stay strings).

  Args:
    arg: the text after the colon in `--config=FILE:ARG`, or None (or
      empty) for no options.
    **defaults: every option the config file accepts, with its default.

  Returns:
    A `ml_collections.ConfigDict` with every key of `defaults`: the value
    `arg` gives it (a string), else its default.

  Raises:
    ConfigError: an item of `arg` is not `key=value` with a key of
      `defaults`.
  """
  options = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or key not in defaults:
      raise errors.ConfigError(
          f"config argument {item!r} is not one of "
          f"{', '.join(k + '=...' for k in sorted(defaults))}; pass "
          "--config=FILE:key=value[,key=value]")
    options[key] = value.strip()
  return options


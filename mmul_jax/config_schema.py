"""Every config key, its default, and the checks run before any compute.

Config files (`configs/*.py`) start from `default_config()` and change values;
`validate()` rejects keys that are not defined here (typos) and values out of
range, each with a one-line message that says what to do.
"""

from __future__ import annotations

import difflib
import math

import ml_collections
import numpy as np

from mmul_jax import errors
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.evaluation import evaluators
from mmul_jax.models import presets


ConfigError = errors.ConfigError


def default_config() -> ml_collections.ConfigDict:
  """Every config key with its default; config files start from it.

  `config.method.<name>` holds the defaults of every method registered in
  `methods.METHODS` when it is called.

  Returns:
    A fresh `ml_collections.ConfigDict` (the demo's dataset and MMUL);
    changing it changes no later call's.
  """
  c = ml_collections.ConfigDict()
  c.seed = 0
  # Where checkpoints, deletion manifests and results go. The --workdir flag
  # of the scripts overrides it; empty means runs/<config file name>.
  c.workdir = ""
  # Every phase writes TensorBoard events under WORKDIR/tb/<phase>.
  c.tensorboard = True

  c.data = ml_collections.ConfigDict()
  c.data.name = "shapes_captions"
  c.data.data_dir = ""  # empty: the TFDS default (~/tensorflow_datasets)
  # Real datasets: where the hand-downloaded files are (see the builders'
  # instructions); empty: <data_dir>/downloads/manual.
  c.data.manual_dir = ""
  c.data.num_train = 2000
  c.data.num_test = 500
  c.data.captions_per_image = 2
  c.data.image_size = 32
  c.data.seed = 0
  c.data.mean = (0.5, 0.5, 0.5)  # per RGB channel
  c.data.std = (0.25, 0.25, 0.25)
  # Molecule datasets: every graph is padded to these budgets (heavy atoms,
  # directed bonds = 2 x bonds), so every batch has one shape. 0: the
  # largest molecule's of the train and test splits, measured at setup.
  c.data.max_atoms = 32
  c.data.max_edges = 72
  # Audio and video datasets: every waveform is cut or zero-padded to
  # audio_samples samples (at the dataset's rate), every clip to num_frames
  # frames (of image_size), so every batch has one shape.
  # Which variant a grid's benchmark.datasets name: "embedded" (generated
  # here) or "real" (the datasets they stand in for).
  c.data.source = "embedded"
  c.data.audio_samples = 4000
  c.data.num_frames = 8
  # > 0: this fraction of the training units, drawn from Dr (never Df), is
  # held out of every model's training and evaluated in the test split's
  # place; no test example is loaded or scored (scripts/tune.py's way).
  c.data.validation_fraction = 0.0

  c.model = ml_collections.ConfigDict(presets.preset("tiny"))
  c.model.preset = "tiny"
  # A CLIP checkpoint (Hugging Face directory or OpenAI/open_clip state
  # dict) to start the image and text towers and the temperature from; the
  # fusion encoder has no CLIP counterpart and starts random. Its tokenizer
  # (tokenizer.json beside the weights) replaces the embedded one. Empty:
  # random initialisation.
  c.model.pretrained = ""
  # A tokenizer.json to use instead (say, the one a run trained, kept in
  # its workdir). Empty: the checkpoint's with model.pretrained, else the
  # embedded vocabulary on the embedded datasets, else a WordPiece
  # vocabulary of model.vocab_size tokens trained on the training texts.
  c.model.tokenizer = ""
  c.model.mlp_ratio = 4.0
  c.model.logit_scale_init = float(np.log(1 / 0.07))
  c.model.dropout_rate = 0.0
  c.model.dtype = "float32"
  # The graph tower of molecule datasets (`models.GraphTextEncoder`), in the
  # image tower's place: message-passing layers ("gin" or "gat"), width,
  # attention heads of "gat".
  c.model.graph_layer = "gin"
  c.model.graph_width = 64
  c.model.graph_layers = 3
  c.model.graph_heads = 4
  # The spectrogram front end of audio datasets (`models.AudioClassifier`):
  # the waveforms' rate (the dataset's), mel bands, window and hop in
  # samples; the video tower's tubelet length in frames.
  c.model.sample_rate = 8000
  c.model.num_mels = 32
  c.model.audio_window = 200
  c.model.audio_hop = 80
  c.model.tubelet_size = 2

  c.deletion = ml_collections.ConfigDict()
  c.deletion.ratio = 5.0  # percent of training images
  # > 0: delete exactly this many units instead (the paper's sizes, e.g.
  # 5,000 images); the ratio is then count / |D|.
  c.deletion.count = 0
  c.deletion.seed = 0
  # "uniform", or "class_skewed": Df from the units of class skew_class
  # only, same size (the dataset-bias analysis).
  c.deletion.strategy = "uniform"
  c.deletion.skew_class = 0
  # A MU-Bench index file (one 0-based train row per line, the 10% set):
  # Df is its first ratio/10 of lines. Empty: draw Df as `strategy` says.
  c.deletion.mubench_file = ""

  # Training of the original model on D and of the retrained model on Dr.
  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 64
  c.train.num_steps = 500
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 100
  c.train.end_learning_rate_ratio = 0.05  # cosine decays to lr * this
  c.train.weight_decay = 0.05
  c.train.grad_clip_norm = 1.0
  c.train.itm_weight = 1.0
  c.train.checkpoint_every = 200
  c.train.log_every = 50

  c.unlearn = ml_collections.ConfigDict()
  c.unlearn.num_steps = 100
  c.unlearn.df_batch_size = 32
  c.unlearn.dr_batch_size = 64
  c.unlearn.learning_rate = 1e-4
  c.unlearn.warmup_steps = 0
  c.unlearn.schedule = "constant"  # or "cosine"
  c.unlearn.weight_decay = 0.05
  c.unlearn.grad_clip_norm = 1.0
  # Parameter-efficient unlearning: train rank-r adapters on every 2-D
  # kernel instead of all weights (0: all weights), scaled by alpha / r.
  # Curriculum: "superloss" weights the per-example task loss of the
  # methods that train on it by SuperLoss confidence (MU-Bench's use_cl).
  c.unlearn.curriculum = "none"
  c.unlearn.superloss_lambda = 10.0
  c.unlearn.lora_rank = 0
  c.unlearn.lora_alpha = 16.0
  # SOUL: "sophia" replaces the method's optimiser (AdamW or SGD) by
  # SophiaG (`gradient_transforms.scale_by_sophia`): clipped second-order
  # steps, m and h decayed by sophia_betas, ratio |m| / (rho * batch * h).
  c.unlearn.second_order = "none"
  c.unlearn.sophia_betas = (0.9, 0.95)
  c.unlearn.sophia_rho = 0.04
  c.unlearn.sophia_batch_size = 5120
  c.unlearn.checkpoint_every = 50
  c.unlearn.log_every = 10
  # Evaluation during unlearning (`unlearn.monitor`): every eval_every
  # steps (0: off), Df, Dr and validation metrics on eval_units units of
  # Df and validation (only with data.validation_fraction) and
  # eval.auc_num_samples times as many of Dr, in the record
  # and TensorBoard. early_stopping = "retrain_gap" returns the evaluated
  # step closest to the retrained model on those sets (no test data) and,
  # with patience > 0, stops after that many evaluations without a closer
  # one.
  c.unlearn.eval_every = 0
  c.unlearn.eval_units = 64
  c.unlearn.early_stopping = "none"
  c.unlearn.patience = 0

  # The method to run and, under its name, its hyperparameters (every
  # registered method's defaults, from its `methods.Method` record; only
  # the selected one is read).
  c.method = ml_collections.ConfigDict()
  c.method.name = "mmul"
  for name, method in methods.METHODS.items():
    if method.defaults:
      c.method[name] = dict(method.defaults)

  # Several processes (hosts) in one job. Empty address: one process;
  # "auto": detected by JAX (TPU pods, SLURM, Open MPI); else "host:port" of
  # process 0, with every process given the same address and its own id.
  c.distributed = ml_collections.ConfigDict()
  c.distributed.coordinator_address = ""
  c.distributed.num_processes = 1
  c.distributed.process_id = 0

  # How parameters are laid out over the devices' mesh: "replicated", or
  # "fsdp" (arrays of at least fsdp_min_size elements split over devices,
  # with their optimiser state; for towers that do not fit on one device).
  c.parallel = ml_collections.ConfigDict()
  c.parallel.param_sharding = "replicated"
  c.parallel.fsdp_min_size = 2 ** 16

  # scripts/shadow.py: K models per kind (seeds seed .. seed + K - 1),
  # trained and unlearned together under jax.vmap, and the methods whose
  # K unlearned models the leakage audit compares to the K retrained ones.
  c.shadow = ml_collections.ConfigDict()
  c.shadow.num_models = 8
  c.shadow.methods = ("finetune",)
  # U-LiRA's variance: 1 the unbiased estimate over the K - 1 models of a
  # side, 0 the maximum-likelihood one of LiRA's code.
  c.shadow.ulira_ddof = 1

  # scripts/tune.py: every method of `methods` (empty: all with something
  # to tune) gets num_trials Optuna trials, run batch_size at a time under
  # jax.vmap, on models trained without a validation_fraction of D drawn
  # from Dr, and selected by closeness to the retrained model there (no
  # test data). The loop's shared search space: a log range of learning
  # rates, and choices of step counts and Df batch sizes.
  c.tune = ml_collections.ConfigDict()
  c.tune.methods = ()
  c.tune.num_trials = 32
  c.tune.batch_size = 8
  c.tune.seed = 0
  c.tune.startup_trials = 8  # random trials before TPE models the rest
  c.tune.validation_fraction = 0.1
  c.tune.learning_rates = (1e-5, 1e-2)
  c.tune.num_steps = (50, 100, 200)
  c.tune.df_batch_sizes = (16, 32)

  # scripts/benchmark.py: the grid of methods x deletion sets x seeds (and
  # model widths) and, per method, "name: key=value, ..." config changes.
  c.benchmark = ml_collections.ConfigDict()
  c.benchmark.methods = ("mmul", "finetune", "neggrad")
  c.benchmark.ratios = (5.0,)
  c.benchmark.seeds = (0,)
  c.benchmark.strategies = ("uniform",)
  c.benchmark.model_widths = ()  # empty: the model as configured
  c.benchmark.settings = ()
  # A tuned.json of scripts/tune.py: every cell of a method it holds runs
  # at its tuned setting (then benchmark.settings apply). Empty: none.
  c.benchmark.tuned = ""
  # A grid over tasks (MU-Bench's breadth): the datasets whose recipe
  # (`recipes.mubench_task`) each cell starts from; empty: data.name only.
  # With data.source = "real", each names the real dataset it stands in
  # for (`recipes.REAL_OF`). dataset_settings: "dataset: key=value, ..."
  # applied after a dataset's recipe.
  c.benchmark.datasets = ()
  c.benchmark.dataset_settings = ()

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 256
  c.eval.recall_ks = (1, 5, 10)
  c.eval.auc_num_samples = 5
  # Evaluate Dr on this many of its images (seeded by auc_seed); 0: all;
  # -1: auc_num_samples x |Df|, what the Df-vs-Dr AUC and MU-Bench's
  # same-size galleries read (Dr recall then ranks over that gallery).
  # Real datasets need a cap: every evaluated image is held in memory.
  c.eval.max_dr_images = -1
  c.eval.auc_seed = 0
  # Re-rank each query's ITC top-k with the matching head (0: off).
  c.eval.rerank_k = 16
  # Metric families run besides the task's own (`evaluation.evaluators`;
  # the task's always run: its table, summary and selection read them).
  c.eval.extra_metrics = ()
  return c


def use_preset(c: ml_collections.ConfigDict, name: str) -> None:
  """Sets every architecture key of `c.model` to the named size preset."""
  c.model.update(presets.preset(name))
  c.model.preset = name


# CLIP's image normalisation (per RGB channel).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


_CHOICES = {
    "data.name": datasets.DATASETS,  # the registry itself: one line adds
    "model.preset": tuple(presets.PRESETS),
    "model.dtype": ("float32", "bfloat16"),
    "model.activation": ("quick_gelu", "gelu", "gelu_exact"),
    "model.graph_layer": ("gin", "gat"),
    "unlearn.schedule": ("constant", "cosine"),
    "parallel.param_sharding": ("replicated", "fsdp"),
    "deletion.strategy": ("uniform", "class_skewed"),
    "unlearn.curriculum": ("none", "superloss"),
    "unlearn.second_order": ("none", "sophia"),
    "unlearn.early_stopping": ("none", "retrain_gap"),
    "tensorboard": (True, False),
    "data.source": ("embedded", "real"),
    "shadow.ulira_ddof": (1, 0),
}
_POSITIVE_INTS = (
    "data.num_train", "data.num_test", "data.captions_per_image",
    "data.image_size", "train.batch_size", "train.num_steps",
    "train.checkpoint_every", "train.log_every", "unlearn.num_steps",
    "unlearn.df_batch_size", "unlearn.dr_batch_size",
    "unlearn.checkpoint_every", "unlearn.log_every",
    "unlearn.sophia_batch_size", "unlearn.eval_units", "eval.batch_size", "shadow.num_models",
    "tune.num_trials", "tune.batch_size",
    "eval.auc_num_samples", "distributed.num_processes",
    "parallel.fsdp_min_size", "model.graph_width", "model.graph_layers", "model.graph_heads",
    "data.audio_samples", "data.num_frames", "model.sample_rate",
    "model.num_mels", "model.audio_window", "model.audio_hop",
    "model.tubelet_size")
_NONNEGATIVE = (
    "train.learning_rate", "train.warmup_steps", "train.weight_decay",
    "train.itm_weight", "train.grad_clip_norm", "unlearn.learning_rate",
    "unlearn.warmup_steps", "unlearn.weight_decay", "unlearn.grad_clip_norm",
    "unlearn.lora_rank", "unlearn.lora_alpha", "unlearn.eval_every",
    "unlearn.patience", "model.dropout_rate")


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


IMAGE_CHANNELS = 3  # data.mean / data.std: one value per RGB channel


def _is_number(x) -> bool:
  return isinstance(x, (int, float)) and not isinstance(x, bool) and (
      math.isfinite(x))


def _positive_ints(values) -> bool:
  return (isinstance(values, (tuple, list)) and len(values) > 0
          and all(isinstance(x, int) and not isinstance(x, bool) and x > 0
                  for x in values))


def unknown_key_message(key: str, known=None) -> str:
  """"unknown config key ..." with the closest valid keys."""
  known = known_keys() if known is None else known
  close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.75)
  hint = (f"did you mean {' or '.join(repr(k) for k in close)}? "
          if close else "")
  return (f"unknown config key {key!r}; {hint}see the configs reference in "
          "docs/configs.md for the valid keys")


def _get(cfg, dotted):
  for part in dotted.split("."):
    cfg = cfg[part]
  return cfg


def _check_tune(t) -> None:
  unknown = set(t.methods) - set(methods.METHODS)
  if not isinstance(t.methods, (tuple, list)) or unknown:
    raise ConfigError(f"tune.methods must be a tuple of method names; "
                      f"unknown: {sorted(unknown)}; available: "
                      f"{sorted(methods.METHODS)}")
  if isinstance(t.seed, bool) or not isinstance(t.seed, int):
    raise ConfigError(f"tune.seed must be an integer, got {t.seed!r}")
  if (isinstance(t.startup_trials, bool) or not isinstance(
      t.startup_trials, int) or t.startup_trials < 0):
    raise ConfigError("tune.startup_trials must be an integer >= 0, got "
                      f"{t.startup_trials!r}")
  if not (_is_number(t.validation_fraction)
          and 0 < t.validation_fraction < 0.5):
    raise ConfigError("tune.validation_fraction must be in (0, 0.5): the "
                      "tuner never selects on test data, got "
                      f"{t.validation_fraction!r}")
  lrs = t.learning_rates
  if not (isinstance(lrs, (tuple, list)) and len(lrs) == 2
          and all(_is_number(x) and x > 0 for x in lrs) and lrs[0] < lrs[1]):
    raise ConfigError("tune.learning_rates must be (low, high) with "
                      f"0 < low < high (a log range), got {lrs!r}")
  for key in ("num_steps", "df_batch_sizes"):
    if not _positive_ints(t[key]) or len(set(t[key])) != len(t[key]):
      raise ConfigError(f"tune.{key} must be distinct positive integers, "
                        f"got {t[key]!r}")


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
  for key, allowed in _CHOICES.items():
    if _get(config, key) not in allowed:
      raise ConfigError(f"{key} = {_get(config, key)!r} is not one of "
                        f"{list(allowed)}")
  for key in _POSITIVE_INTS:
    v = _get(config, key)
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
      raise ConfigError(f"{key} must be a positive integer, got {v!r}")
  for key in ("data.max_atoms", "data.max_edges"):  # 0: measured
    v = _get(config, key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
      raise ConfigError(f"{key} must be an integer >= 0 (0: the largest "
                        f"molecule's), got {v!r}")
  for key in _NONNEGATIVE:
    v = _get(config, key)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
      raise ConfigError(f"{key} must be a number >= 0, got {v!r}")
  u = config.unlearn
  for key in ("eval_every", "patience"):
    if not isinstance(u[key], int):
      raise ConfigError(f"unlearn.{key} must be an integer >= 0, got "
                        f"{u[key]!r}")
  if u.early_stopping != "none" and not u.eval_every:
    raise ConfigError(
        f"unlearn.early_stopping = {u.early_stopping!r} needs "
        "unlearn.eval_every > 0 (how often the unlearned model is "
        "evaluated)")
  if u.patience and u.early_stopping == "none":
    raise ConfigError("unlearn.patience stops by unlearn.early_stopping's "
                      "rule; set unlearn.early_stopping = \"retrain_gap\"")
  if not 0.0 < float(config.deletion.ratio) < 100.0:
    raise ConfigError("deletion.ratio must be a percentage in (0, 100), got "
                      f"{config.deletion.ratio}")
  vf = config.data.validation_fraction
  if not (_is_number(vf) and 0 <= vf < 0.5):
    raise ConfigError("data.validation_fraction must be a number in [0, "
                      f"0.5) (0: evaluate on the test split), got {vf!r}")
  if config.model.image_size != config.data.image_size:
    raise ConfigError(f"model.image_size ({config.model.image_size}) must "
                      f"equal data.image_size ({config.data.image_size})")
  if config.model.graph_width % config.model.graph_heads:
    raise ConfigError("model.graph_width must be a multiple of "
                      "model.graph_heads")
  if config.model.image_size % config.model.patch_size:
    raise ConfigError("model.image_size must be a multiple of "
                      "model.patch_size")
  count = config.deletion.count
  if isinstance(count, bool) or not isinstance(count, int) or count < 0:
    raise ConfigError("deletion.count must be an integer >= 0 (0: use "
                      f"deletion.ratio), got {count!r}")
  if count and config.deletion.mubench_file:
    raise ConfigError("deletion.count does not apply to a MU-Bench file "
                      "(its sets are ratios); set deletion.count=0")
  if config.deletion.mubench_file and not 0 < config.deletion.ratio <= 10:
    raise ConfigError("a MU-Bench deletion file holds the 10% set: "
                      "deletion.ratio must be in (0, 10]")
  if not config.unlearn.superloss_lambda > 0:
    raise ConfigError("unlearn.superloss_lambda must be > 0")
  betas = config.unlearn.sophia_betas
  if not (isinstance(betas, (tuple, list)) and len(betas) == 2
          and all(_is_number(b) and 0 <= b < 1 for b in betas)):
    raise ConfigError("unlearn.sophia_betas must be two numbers in [0, 1), "
                      f"got {betas!r}")
  if not (_is_number(config.unlearn.sophia_rho)
          and config.unlearn.sophia_rho > 0):
    raise ConfigError("unlearn.sophia_rho must be a number > 0, got "
                      f"{config.unlearn.sophia_rho!r}")
  if not isinstance(config.unlearn.lora_rank, int):
    raise ConfigError("unlearn.lora_rank must be an integer >= 0 (0: train "
                      f"every weight), got {config.unlearn.lora_rank!r}")
  _check_tune(config.tune)
  b = config.benchmark
  for key in ("methods", "ratios", "seeds", "strategies", "model_widths"):
    if not isinstance(b[key], (tuple, list)) or (
        not b[key] and key != "model_widths"):
      raise ConfigError(f"benchmark.{key} must be a non-empty tuple")
  if not all(_is_number(r) and 0 < r < 100 for r in b.ratios):
    raise ConfigError("benchmark.ratios must be percentages in (0, 100), "
                      f"got {b.ratios!r}")
  if not all(isinstance(x, int) and not isinstance(x, bool)
             for x in b.seeds):
    raise ConfigError(f"benchmark.seeds must be integers, got {b.seeds!r}")
  if b.model_widths and not _positive_ints(b.model_widths):
    raise ConfigError("benchmark.model_widths must be positive integers, "
                      f"got {b.model_widths!r}")
  if not isinstance(b.tuned, str):
    raise ConfigError(f"benchmark.tuned must be a path (a string), got "
                      f"{b.tuned!r}")
  if not all(isinstance(x, str) for x in b.settings):
    raise ConfigError("benchmark.settings must be strings \"method: key="
                      f"value, ...\", got {b.settings!r}")
  if not all(isinstance(x, str) for x in (*b.datasets,
                                          *b.dataset_settings)):
    raise ConfigError("benchmark.datasets and benchmark.dataset_settings "
                      f"must be strings, got {b.datasets!r}, "
                      f"{b.dataset_settings!r}")
  unknown = set(b.datasets) - set(datasets.DATASETS)
  if unknown:
    raise ConfigError(f"benchmark.datasets: unknown dataset(s) "
                      f"{sorted(unknown)}; available: "
                      f"{sorted(datasets.DATASETS)}")
  unknown = set(b.methods) - set(methods.METHODS)
  if unknown:
    raise ConfigError(f"benchmark.methods: unknown method(s) "
                      f"{sorted(unknown)}; available: "
                      f"{sorted(methods.METHODS)}")
  bad = set(b.strategies) - set(_CHOICES["deletion.strategy"])
  if bad:
    raise ConfigError(f"benchmark.strategies: {sorted(bad)} not in "
                      f"{list(_CHOICES['deletion.strategy'])}")
  d = config.distributed
  if d.coordinator_address and d.coordinator_address != "auto" and not (
      isinstance(d.process_id, int) and 0 <= d.process_id < d.num_processes):
    raise ConfigError(f"distributed.process_id ({d.process_id}) must be in "
                      f"0..{d.num_processes - 1} (distributed.num_processes)")
  if (not isinstance(config.eval.max_dr_images, int)
      or config.eval.max_dr_images < -1):
    raise ConfigError("eval.max_dr_images must be an integer >= -1 (0: "
                      "every retained image; -1: eval.auc_num_samples x "
                      "|Df|, what the AUC reads)")
  if config.eval.rerank_k < 0:
    raise ConfigError("eval.rerank_k must be >= 0 (0 turns re-ranking off)")
  if not isinstance(config.eval.extra_metrics, (tuple, list)):
    raise ConfigError("eval.extra_metrics must be a tuple of metric family "
                      "names")
  if not _positive_ints(config.eval.recall_ks):
    raise ConfigError("eval.recall_ks must be a non-empty tuple of positive "
                      f"integers, got {config.eval.recall_ks!r}")
  for key in ("mean", "std"):
    v = config.data[key]
    if not (isinstance(v, (tuple, list)) and len(v) == IMAGE_CHANNELS
            and all(_is_number(x) for x in v)):
      raise ConfigError(f"data.{key} must be {IMAGE_CHANNELS} numbers (one "
                        f"per RGB channel), got {v!r}")
  if min(config.data.std) <= 0:
    raise ConfigError(f"data.std must be > 0, got {config.data.std!r}")
  spec = datasets.DATASETS[config.data.name]
  features = spec.features
  if (config.deletion.strategy == "class_skewed"
      or "class_skewed" in config.benchmark.strategies) and (
          "classes" not in features):
    raise ConfigError(f"class-skewed deletion needs a class per image; "
                      f"{config.data.name} has none (use the uniform "
                      "strategy)")
  spec.input_type.check(config, spec)
  if spec.check is not None:
    spec.check(config)
  task = tasks.for_dataset(spec)
  evaluators.check(config.eval.extra_metrics, task.outputs)
  methods.check_config(config, set(features), task)


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


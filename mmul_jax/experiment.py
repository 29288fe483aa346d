"""What every run needs before any compute: validated config, data, Df/Dr,
tokenizer, model and mesh."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
from typing import Callable, Iterable

from absl import logging
import jax
import ml_collections
import numpy as np
import tokenizers

from mmul_jax import config_schema
from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax import models
from mmul_jax import pretrained
from mmul_jax import workdir_lock
from mmul_jax.data import deletion
from mmul_jax.data import molecules
from mmul_jax.data import pipeline
from mmul_jax.data import datasets
from mmul_jax.data import tokenizer as tokenizer_lib
from mmul_jax.training import sharding


_GRAPH_DATA_KEYS = ("max_atoms", "max_edges")


@dataclasses.dataclass
class Experiment:
  config: ml_collections.ConfigDict
  workdir: str
  dataset_name: str
  train: pipeline.ImageTextSplit
  test: pipeline.ImageTextSplit
  deletion: deletion.DeletionSet
  tokenizer: tokenizers.Tokenizer
  model: models.DualEncoder | models.GraphTextEncoder
  mesh: jax.sharding.Mesh
  spec: datasets.DatasetSpec  # also the records' `pipeline.RecordLayout`

  @functools.cached_property
  def eval_sets(self) -> dict[str, pipeline.PairSet]:
    """All pairs of the test split, of Df and of Dr (loaded once)."""
    kw = dict(tok=self.tokenizer,
              shape=pipeline.InputShape.of(self.config.data),
              layout=self.spec)
    return {
        "test": pipeline.load_pairs(self.test, self.test.image_ids,
                                    desc="load test", **kw),
        "df": pipeline.load_pairs(self.train, self.deletion.forget_ids,
                                  desc="load Df", **kw),
        "dr": pipeline.load_pairs(self.train, self.eval_retain_ids(),
                                  desc="load Dr", **kw),
    }

  @functools.cached_property
  def texts_per_unit(self) -> float:
    """Captions (or sentences) per deletion unit: the mean over up to 200
    training records (exact where every unit has as many)."""
    n = min(200, len(self.train))
    key = self.spec.text_key
    return float(np.mean([len(self.train.source[i][key])
                          for i in range(n)]))

  def eval_retain_ids(self) -> np.ndarray:
    """The Dr images evaluated: all, or `eval.max_dr_images` of them drawn
    with `eval.auc_seed` (the same for every model of a run)."""
    ids, cap = self.deletion.retain_ids, self.config.eval.max_dr_images
    if not cap or cap >= len(ids):
      return ids
    rng = np.random.default_rng(self.config.eval.auc_seed)
    return np.sort(rng.choice(ids, cap, replace=False))

  def training_stream(self, image_ids, batch_size: int, seed: int):
    """This process's rows of the seeded batch stream over `image_ids`."""
    c = self.config.data
    return pipeline.training_stream(
        self.train, image_ids, tok=self.tokenizer, batch_size=batch_size,
        seed=seed, mean=c.mean, std=c.std,
        shape=pipeline.InputShape.of(c),
        shard=sharding.local_rows(self.mesh, batch_size),
        layout=self.spec)

  def state_sharding(self, tree):
    """Shardings of a parameter-shaped tree under `config.parallel`."""
    p = self.config.parallel
    return sharding.state_sharding(
        tree, self.mesh,
        p.fsdp_min_size if p.param_sharding == "fsdp" else 0)

  def data_fingerprint(self) -> dict:
    """The data config, without the graph budgets on image datasets (so
    adding graph keys left image runs' checkpoints valid)."""
    data = self.config.data.to_dict()
    if self.spec.modality != "graph":
      for key in _GRAPH_DATA_KEYS:
        data.pop(key, None)
    return {"dataset": self.dataset_name, "data": data}

  def model_fingerprint(self) -> dict:
    """The model config keys the built module reads, plus `preset` and
    `pretrained`: a graph-text run ignores the image tower's keys and an
    image run the `graph_*` ones."""
    fields = {f.name for f in dataclasses.fields(type(self.model))}
    fp = {k: v for k, v in self.config.model.to_dict().items()
          if k in fields or k in ("preset", "pretrained")}
    # The embedded vocabulary is fixed in code; any other can differ
    # between runs with the same config (a retrained or edited file).
    if tokenizer_source(self.config.model, self.spec) != "embedded":
      fp["tokenizer_sha256"] = tokenizer_lib.vocabulary_sha256(
          self.tokenizer)
    return fp


def _check_tokenizer(tok: tokenizers.Tokenizer, model_cfg,
                     described: str) -> None:
  """`described` says where `tok` came from, so a message points at the
  file to change."""
  size = tok.get_vocab_size()
  if model_cfg.pretrained and size != model_cfg.vocab_size:
    # A checkpoint's embedding rows belong to its own vocabulary.
    raise config_schema.ConfigError(
        f"{described} has {size} tokens but the checkpoint "
        f"{model_cfg.pretrained} has {model_cfg.vocab_size} embedding rows "
        "(model.vocab_size); use the checkpoint's own tokenizer.json")
  if size > model_cfg.vocab_size:
    raise config_schema.ConfigError(
        f"{described} has {size} tokens but model.vocab_size is "
        f"{model_cfg.vocab_size}; raise model.vocab_size")
  if tokenizer_lib.eot_id(tok) != model_cfg.eot_id:
    raise config_schema.ConfigError(
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
        "for this data (see model.tokenizer in README.md)", 100 * rate,
        described)
  return rate


TOKENIZER_FILE = "tokenizer.json"  # a trained tokenizer, in the workdir
TOKENIZER_SOURCE_FILE = "tokenizer_source.json"  # what it was trained on


def tokenizer_source(model_cfg, spec: datasets.DatasetSpec) -> str:
  """Where a run's tokenizer comes from: "file" (`model.tokenizer`),
  "checkpoint" (`model.pretrained`'s), "embedded" (the embedded datasets'
  fixed vocabulary) or "trained" (a WordPiece vocabulary trained on a
  hand-downloaded dataset's training texts: the embedded vocabulary would
  turn most real words into [UNK])."""
  if model_cfg.tokenizer:
    return "file"
  if model_cfg.pretrained:
    return "checkpoint"
  return "trained" if spec.manual else "embedded"


def make_tokenizer(model_cfg, spec: datasets.DatasetSpec = datasets.DATASETS[
    "shapes_captions"], *, workdir: str = "", dataset_name: str = "",
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
    raise config_schema.ConfigError(
        f"{path} was trained for {stored or 'an unknown source'}, this run "
        f"needs one for {wanted}; use another workdir (or delete both "
        f"{TOKENIZER_FILE} and {TOKENIZER_SOURCE_FILE} there)")
  return tokenizer_lib.load(path, model_cfg.context_length)


def lock_workdir(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Joins the multi-process job (`config.distributed`) and takes the
  workdir's lock on process 0, before anything is written there."""
  distributed.initialize(config.distributed)
  if distributed.is_main():
    workdir_lock.acquire(workdir)


def setup(config: ml_collections.ConfigDict, workdir: str) -> Experiment:
  """Validates the config, prepares the dataset and the deletion sets.

  Locks the workdir against other processes (`workdir_lock`) until the
  enclosing `workdir_lock.scope()` closes (`unlearn.run.run` has one), or
  the process ends."""
  config_schema.validate(config)
  datasets.check_available(config.data)  # instructions, before compute
  spec = datasets.DATASETS[config.data.name]
  if config.model.pretrained:
    pretrained.check_model_config(
        os.path.expanduser(config.model.pretrained), config.model)
  trained_tokenizer = tokenizer_source(config.model, spec) == "trained"
  if not trained_tokenizer:  # its errors before any compute
    tok = make_tokenizer(config.model, spec)
  lock_workdir(config, workdir)
  mesh = sharding.make_mesh()
  for what, size in (("train.batch_size", config.train.batch_size),
                     ("unlearn.df_batch_size", config.unlearn.df_batch_size),
                     ("unlearn.dr_batch_size", config.unlearn.dr_batch_size)):
    try:
      sharding.check_batch_size(size, mesh, what)
    except ValueError as e:
      raise config_schema.ConfigError(str(e)) from None
  with distributed.main_first("prepare dataset"):
    builder = datasets.prepare(config.data)
  train, test = _index_splits(builder, spec)
  dataset_name = builder.name + (f"/{builder.builder_config.name}"
                                 if builder.builder_config else "")
  if spec.modality == "graph":
    _graph_budgets(config.data, {"train": train, "test": test})
  if trained_tokenizer:
    tok = make_tokenizer(config.model, spec, workdir=workdir,
                         dataset_name=dataset_name,
                         texts=lambda: datasets.texts(builder, spec))
  if distributed.is_main():
    warn_if_unknown(
        tok, itertools.islice(datasets.texts(builder, spec), 500),
        describe_tokenizer(tokenizer_source(config.model, spec), config.model,
                           workdir))
  with distributed.main_first("deletion manifests"):
    df = deletion_set(config.deletion, train, dataset_name,
                      os.path.join(workdir, "deletion"))
  _check_deletion_fits(config, df)
  if spec.modality == "graph":
    model = models.build(config.model, modality="graph")
  else:
    model = models.build(config.model, num_classes=spec.num_classes,
                         num_images=len(spec.image_keys))
  return Experiment(config, workdir, dataset_name, train, test, df, tok,
                    model, mesh, spec)


def _index_splits(builder, spec: datasets.DatasetSpec):
  """The train and test splits, every record read once (so a truncated or
  corrupt prepared file stops here, before any compute, naming it)."""
  try:
    sources = builder.as_data_source()
    return tuple(pipeline.index_split(sources[s], desc=f"index {s}",
                                      id_key=spec.id_key)
                 for s in ("train", "test"))
  except RuntimeError as e:  # array_record's reader raises RuntimeError
    text = str(e)
    if not any(w in text for w in ("ArrayRecord", "Riegeli", "records")):
      raise
    raise errors.DataError(
        f"the prepared dataset in {builder.data_dir} is truncated or corrupt "
        f"({text.splitlines()[0][:160]}); delete that directory to build it "
        "again (from the generator, or from your downloaded files)"
    ) from None


def _graph_budgets(d, splits: dict) -> None:
  """Every molecule must fit `data.max_atoms` / `data.max_edges`: checked
  over whole splits before any compute (the pipeline would otherwise stop
  at the first oversized batch, mid-training), naming the sizes needed. A
  budget of 0 is set here to the largest molecule's (so the fingerprints
  record the budget used)."""
  need = {}
  for name, split in splits.items():
    sizes = molecules.graph_sizes(split.source, desc=f"measure {name}")
    need[name] = (int(sizes[:, 0].max(initial=1)),
                  int(sizes[:, 1].max(initial=0)))
  atoms = max(a for a, _ in need.values())
  edges = max(e for _, e in need.values())
  d.max_atoms = d.max_atoms or atoms
  d.max_edges = d.max_edges or edges
  if atoms > d.max_atoms or edges > d.max_edges:
    raise config_schema.ConfigError(
        f"the largest molecules of {d.name} have {atoms} atoms and {edges} "
        f"directed bonds (per split: {need}), over data.max_atoms="
        f"{d.max_atoms} / data.max_edges={d.max_edges}; set "
        f"--config.data.max_atoms={atoms} --config.data.max_edges={edges} "
        "(or 0 for both: the largest molecule's)")


def deletion_set(d: ml_collections.ConfigDict, train: pipeline.ImageTextSplit,
                 dataset_name: str, root: str) -> deletion.DeletionSet:
  """Df as `config.deletion` says: imported from a MU-Bench file, or the
  seeded uniform (all standard ratios written at once) or class-skewed
  set, from its manifest under `root`."""
  ratio = float(d.ratio)
  if d.count:
    if d.count >= len(train):
      raise config_schema.ConfigError(
          f"deletion.count ({d.count}) must be below the {len(train)} "
          "training units")
    ratio = 100.0 * d.count / len(train)
  if d.mubench_file:
    rows = deletion.read_mubench_indices(d.mubench_file, num_rows=len(train),
                                         ratio=ratio)
    return deletion.from_rows(rows, train.image_ids, ratio=ratio,
                              dataset=dataset_name)
  if d.strategy == "class_skewed":
    return deletion.skewed_set(
        root, train.image_ids, pipeline.read_column(train.source, "label"),
        dataset=dataset_name, seed=d.seed, ratio=ratio,
        skew_class=d.skew_class)
  # The standard ratios too (nested manifests), where they delete anything.
  n = len(train.image_ids)
  ratios = sorted({r for r in deletion.STANDARD_RATIOS
                   if 0 < deletion.unit_count(r, n) < n} | {ratio})
  return deletion.standard_sets(root, train.image_ids, dataset=dataset_name,
                                seed=d.seed, ratios=ratios)[ratio]


def _check_deletion_fits(config, df: deletion.DeletionSet) -> None:
  n_df, n_dr = len(df.forget_ids), len(df.retain_ids)
  m = config.method
  if (m.name == "mmul" and m.mmul.md_weight
      and m.mmul.negative_source == "df" and n_df < 2):
    raise config_schema.ConfigError(
        "modality decoupling with negatives from Df needs at least 2 deleted "
        f"images, the deletion set has {n_df}; raise deletion.ratio or set "
        "method.mmul.negative_source='dr'")
  if config.unlearn.df_batch_size > n_df:
    raise config_schema.ConfigError(
        f"unlearn.df_batch_size ({config.unlearn.df_batch_size}) exceeds the "
        f"{n_df} deleted images; lower it or raise deletion.ratio")
  if config.unlearn.dr_batch_size > n_dr:
    raise config_schema.ConfigError(
        f"unlearn.dr_batch_size ({config.unlearn.dr_batch_size}) exceeds the "
        f"{n_dr} retained images")
  n_eval = min(n_dr, config.eval.max_dr_images or n_dr)
  if config.eval.auc_num_samples * n_df > n_eval:  # same check as at eval
    raise config_schema.ConfigError(
        f"eval.auc_num_samples ({config.eval.auc_num_samples}) disjoint Dr "
        f"samples of |Df| = {n_df} images do not fit in the {n_eval} "
        "evaluated Dr images; lower eval.auc_num_samples or deletion.ratio, "
        "or raise eval.max_dr_images")


def init_params(exp: Experiment, seed: int):
  """Freshly initialised parameters (the same for the same seed)."""
  c = exp.config.model
  text = np.zeros((1, c.context_length), np.int32)
  if exp.spec.modality == "graph":  # one molecule of a single atom
    graph = molecules.MoleculeGraph(
        np.zeros((1, len(molecules.NODE_FEATURES)), np.int32),
        np.zeros((0, len(molecules.EDGE_FEATURES)), np.int32),
        np.zeros((0,), np.int32), np.zeros((0,), np.int32))
    shape = pipeline.InputShape.of(exp.config.data)
    example = molecules.padded(graph, max_atoms=shape.max_atoms,
                               max_edges=shape.max_edges)
    return jax.jit(exp.model.init)(jax.random.key(seed),
                                   pipeline.stack([example]), text)
  images = np.zeros((1, c.image_size, c.image_size, 3), np.float32)
  if exp.model.num_classes:  # the class head is reached through classify
    images = np.zeros((1, exp.model.num_images) + images.shape[1:],
                      np.float32)
    return jax.jit(functools.partial(exp.model.init,
                                     method=exp.model.classify))(
        jax.random.key(seed), images, text)
  return jax.jit(exp.model.init)(jax.random.key(seed), images, text)


def initial_params(exp: Experiment, seed: int):
  """Where training starts: `init_params`, with the image and text towers
  from `model.pretrained` when it is set."""
  params = init_params(exp, seed)
  if exp.config.model.pretrained:
    params = pretrained.load_towers(
        os.path.expanduser(exp.config.model.pretrained), params,
        exp.config.model)
  return params

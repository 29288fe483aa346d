"""What every run needs before any compute, assembled once: validated
config, data, Df/Dr, tokenizer, task, model and mesh."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os

import jax
import ml_collections
import numpy as np
import tokenizers

from mmul_jax import config_schema
from mmul_jax import distributed
from mmul_jax import methods
from mmul_jax import models
from mmul_jax import pretrained
from mmul_jax import tasks
from mmul_jax import workdir_lock
from mmul_jax.data import datasets
from mmul_jax.data.core import deletion
from mmul_jax.data.core import deletion_policy
from mmul_jax.data.core import modalities
from mmul_jax.data.core import pipeline
from mmul_jax.data.core import qa
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.data.core import tokenizer_policy
from mmul_jax.training import sharding


# Keys of `config.data` that say where the data lies, not what it is.
LOCATION_KEYS = ("data_dir", "manual_dir")


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
  task: tasks.Task
  ood: pipeline.ImageTextSplit | None = None  # `spec.ood`'s test split
  # `data.validation_fraction`'s units, carved from Dr: no model of the run
  # trains on them and they replace the test split (None: off).
  validation_ids: np.ndarray | None = None
  dataset_version: str | None = None  # the prepared builder's version

  @functools.cached_property
  def eval_sets(self) -> dict[str, pipeline.PairSet]:
    """All pairs of the test split, of Df and of Dr (loaded once), and of
    the out-of-distribution test set where the dataset has one ("ood").

    With a validation carve (`validation_ids`) the held-out set "test" is
    the validation units of the train split and no test example is loaded
    (no OOD set either): what a tuning run selects by never saw a test
    example.
    """
    kw = dict(tok=self.tokenizer,
              shape=self.input_shape(),
              layout=self.spec)
    if self.validation_ids is not None:
      held_out = pipeline.load_pairs(self.train, self.validation_ids,
                                     desc="load validation", **kw)
    else:
      held_out = pipeline.load_pairs(self.test, self.test.image_ids,
                                     desc="load test", **kw)
    ood = ({"ood": pipeline.load_pairs(self.ood, self.ood.image_ids,
                                       desc="load OOD", **kw)}
           if self.ood is not None and self.validation_ids is None else {})
    return {
        "test": held_out,
        "df": pipeline.load_pairs(self.train, self.deletion.forget_ids,
                                  desc="load Df", **kw),
        "dr": pipeline.load_pairs(self.train, self.eval_retain_ids(),
                                  desc="load Dr", **kw),
        **ood,
    }

  def monitor_sets(self, num_units: int, seed: int
                   ) -> dict[str, pipeline.PairSet]:
    """A seeded sample of `num_units` units of Df and of validation (with
    a carve), and `eval.auc_num_samples` times as many of the evaluated Dr
    (the Df-vs-Dr AUC draws that many disjoint Dr samples of |Df|), for
    evaluation during unlearning (`unlearn.monitor`). The test split is
    never loaded: without a carve the held-out slot "test" is the Dr
    sample, whose metrics the monitor drops."""
    kw = dict(tok=self.tokenizer,
              shape=self.input_shape(),
              layout=self.spec)
    sample = lambda ids, n, k: deletion_policy.sample_ids(ids, n, seed + k)
    dr_units = num_units * self.config.eval.auc_num_samples
    sets = {"df": pipeline.load_pairs(
                self.train, sample(self.deletion.forget_ids, num_units, 0),
                desc="load Df sample", **kw),
            "dr": pipeline.load_pairs(
                self.train, sample(self.eval_retain_ids(), dr_units, 1),
                desc="load Dr sample", **kw)}
    sets["test"] = (pipeline.load_pairs(
        self.train, sample(self.validation_ids, num_units, 2),
        desc="load validation sample", **kw)
                    if self.validation_ids is not None else sets["dr"])
    return sets

  @functools.cached_property
  def texts_per_unit(self) -> float:
    """Captions (or sentences) per deletion unit: the mean over up to 200
    training records (exact where every unit has as many); 1 for a
    unimodal dataset, whose unit is one example."""
    if self.spec.unimodal:
      return 1.0
    n = min(200, len(self.train))
    key = self.spec.text_key
    return float(np.mean([len(self.train.source[i][key])
                          for i in range(n)]))

  def eval_retain_ids(self) -> np.ndarray:
    """The Dr units evaluated (`deletion_policy.eval_retain_ids`)."""
    e = self.config.eval
    return deletion_policy.eval_retain_ids(
        self.deletion, max_images=e.max_dr_images, seed=e.auc_seed,
        num_samples=e.auc_num_samples)

  def training_stream(self, image_ids, batch_size: int, seed: int,
                      question_types: tuple[str, ...] = ()):
    """This process's rows of the seeded batch stream over `image_ids`
    (question-answer records: only pairs of `question_types`, if any)."""
    c = self.config.data
    return pipeline.training_stream(
        self.train, image_ids, tok=self.tokenizer, batch_size=batch_size,
        seed=seed, mean=c.mean, std=c.std,
        shape=self.input_shape(),
        shard=sharding.local_rows(self.mesh, batch_size),
        layout=self.spec, question_types=question_types)

  def input_shape(self) -> pipeline.InputShape:
    """The data's fixed shapes (`InputShape.of(config.data)`), with the
    image placeholders prompts carry for a model that reads its image
    tokens in their place (a LLaVA checkpoint's `image_token_id`)."""
    shape = pipeline.InputShape.of(self.config.data)
    token = getattr(self.model, "image_token_id", -1)
    if token < 0:
      return shape
    return dataclasses.replace(
        shape, image_token=self.tokenizer.id_to_token(token) or "",
        image_tokens=self.model.num_image_tokens)

  def state_sharding(self, tree):
    """Shardings of a parameter-shaped tree under `config.parallel`."""
    p = self.config.parallel
    return sharding.state_sharding(
        tree, self.mesh,
        p.fsdp_min_size if p.param_sharding == "fsdp" else 0)

  def data_fingerprint(self) -> dict:
    """What the data is: the dataset's name and builder version and the
    data config, without the keys the task ignores (the graph budgets on
    image datasets: adding them left image runs' checkpoints valid) and
    without where it lies (`LOCATION_KEYS`: the same data under another
    spelling of `data.data_dir` is the same data)."""
    data = self.config.data.to_dict()
    data.pop("source", None)  # read by grids only, never by a run
    if data["name"] != datasets.FILES:  # read by `files` only
      data.pop("files", None)
      data.pop("skip_bad_rows", None)
    for key in LOCATION_KEYS:
      data.pop(key, None)
    if not data.get("validation_fraction"):  # off: runs from before it
      data.pop("validation_fraction", None)
    if data.get("prompt_template") == qa.DEFAULT_TEMPLATE:  # as before it
      data.pop("prompt_template")
    for key in modalities.OPTIONAL_DATA_KEYS:
      if key not in self.task.data_keys:
        data.pop(key, None)
    return {"dataset": self.dataset_name,
            "dataset_version": self.dataset_version, "data": data}

  def model_fingerprint(self) -> dict:
    """The model config keys the built module reads, plus `preset` and
    `pretrained`: a graph-text run ignores the image tower's keys and an
    image run the `graph_*` ones."""
    arch = self.config.model.arch
    keys = (set(models.ARCH_KEYS[arch]) | {"arch"} if arch != "clip" else
            {f.name for f in dataclasses.fields(type(self.model))})
    fp = {k: v for k, v in self.config.model.to_dict().items()
          if k in keys or k in ("preset", "pretrained")}
    # The embedded vocabulary is fixed in code; any other can differ
    # between runs with the same config (a retrained or edited file).
    if tokenizer_policy.tokenizer_source(self.config.model,
                                         self.spec) != "embedded":
      fp["tokenizer_sha256"] = tokenizer_lib.vocabulary_sha256(
          self.tokenizer)
    return fp


def lock_workdir(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Joins the multi-process job (`config.distributed`) and takes the
  workdir's lock on process 0, before anything is written there."""
  distributed.initialize(config.distributed)
  if distributed.is_main():
    workdir_lock.acquire(workdir)


def setup(config: ml_collections.ConfigDict, workdir: str, *,
          memorised_rows=None) -> Experiment:
  """Validates the config, prepares the dataset and the deletion sets
  (`memorised_rows`: the `memorised` strategy's Df, chosen with the
  original model by `unlearn.worst_case.setup`).

  Locks the workdir against other processes (`workdir_lock`) until the
  enclosing `workdir_lock.scope()` closes (`unlearn.run.run` has one), or
  the process ends."""
  config_schema.validate(config)
  datasets.check_available(config.data)  # instructions, before compute
  spec = datasets.spec_of(config.data)
  task = tasks.for_dataset(spec)
  if config.model.pretrained:
    pretrained.check_model_config(
        os.path.expanduser(config.model.pretrained), config.model, task=task)
  if config.model.original:
    pretrained.check_original(os.path.expanduser(config.model.original),
                              config.model, task)
  source = tokenizer_policy.tokenizer_source(config.model, spec)
  if source != "trained":  # its errors before any compute
    tok = tokenizer_policy.make_tokenizer(config.model, spec)
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
    ood_builder = datasets.prepare_ood(config.data)
  train, test = datasets.index_splits(builder, spec)
  ood = (pipeline.index_split(ood_builder.as_data_source("test"),
                              desc="index OOD", id_key=spec.id_key)
         if ood_builder else None)
  dataset_name = builder.name + (f"/{builder.builder_config.name}"
                                 if builder.builder_config else "")
  task.check_splits(config.data, {"train": train, "test": test})
  if source == "trained":
    tok = tokenizer_policy.make_tokenizer(
        config.model, spec, workdir=workdir, dataset_name=dataset_name,
        texts=lambda: datasets.texts(builder, spec))
  if distributed.is_main():
    tokenizer_policy.warn_if_unknown(
        tok, itertools.islice(datasets.texts(builder, spec), 500),
        tokenizer_policy.describe_tokenizer(source, config.model, workdir))
  with distributed.main_first("deletion manifests"):
    df = deletion_policy.deletion_set(config.deletion, train, dataset_name,
                                      os.path.join(workdir, "deletion"),
                                      example_rows=spec.example_rows,
                                      memorised_rows=memorised_rows)
  validation = None
  if config.data.validation_fraction:
    df, validation = deletion_policy.carve_validation(
        df, config.data.validation_fraction, config.data.seed)
  deletion_policy.check_fits(config, df)
  methods.check_deletion(config, df)
  exp = Experiment(config, workdir, dataset_name, train, test, df, tok,
                   task.build_model(config.model), mesh, spec, task, ood,
                   validation, str(builder.version))
  if spec.generative:  # the prompt template's errors before any compute
    pipeline.qa_encoder(tok, exp.input_shape())
  return exp


def init_params(exp: Experiment, seed: int):
  """Freshly initialised parameters (the same for the same seed)."""
  return exp.task.init_params(exp.model, exp.config, seed)


def init_params_many(exp: Experiment, seeds):
  """`init_params` of every seed, stacked on a leading axis: one vmapped,
  compiled initialisation (model k equals `init_params(exp, seeds[k])`)."""
  return jax.jit(jax.vmap(lambda s: init_params(exp, s)))(
      jax.numpy.asarray(seeds, jax.numpy.int32))


def _checkpoint(exp: Experiment, checkpoint: str | None) -> str:
  """The checkpoint training starts from: `checkpoint`, or
  `model.pretrained` ("" for a random initialisation)."""
  path = checkpoint or exp.config.model.pretrained
  return os.path.expanduser(path) if path else ""


def initial_params_many(exp: Experiment, seeds, checkpoint=None):
  """`initial_params` of every seed, stacked: the same pretrained towers in
  every model, fresh heads per seed."""
  params = init_params_many(exp, seeds)
  path = _checkpoint(exp, checkpoint)
  if not path:
    return params
  return jax.tree.map(lambda *xs: np.stack(xs), *[
      pretrained.load_towers(path, jax.tree.map(lambda x, k=k: np.asarray(
          x[k]), params), exp.config.model) for k in range(len(seeds))])


def initial_params(exp: Experiment, seed: int, checkpoint=None):
  """Where training starts: `init_params`, with what `checkpoint` (default
  `model.pretrained`) holds for the model when one is set."""
  params = init_params(exp, seed)
  path = _checkpoint(exp, checkpoint)
  if path:
    params = pretrained.load_towers(path, params, exp.config.model)
  return params

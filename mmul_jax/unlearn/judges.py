"""Trains (once, resumably) and loads a text-to-image run's judges
(`evaluation.judges`): the project's image classifier on the dataset's
classification twin (`DatasetSpec.judge_classifier`) and its dual encoder
on its retrieval twin (`judge_encoder`), each a run of its own under
`<workdir>/judges/<dataset>` over the same generated images, trained on
the whole training split (D: a judge has seen what is forgotten, as
SalUn's CIFAR-10 classifier has) by the ordinary training phase."""

from __future__ import annotations

import os

import ml_collections

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import recipes
from mmul_jax.data import datasets
from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import judges as judges_lib
from mmul_jax.unlearn import train_phase

JUDGES_DIR = "judges"
# The data keys a judge shares with its run: the same generated items.
_SHARED_DATA = ("num_train", "num_test", "image_size", "seed",
                "captions_per_image", "data_dir", "manual_dir")


def judge_config(config: ml_collections.ConfigDict,
                 dataset: str) -> ml_collections.ConfigDict:
  """The judge's run on `dataset`: the run's data settings, the project's
  default tiny model (patches of a quarter of the image side) and the
  dataset's grid recipe where it has one (`eval.judge_steps` > 0 sets the
  training steps)."""
  c = config_schema.default_config()
  for key in _SHARED_DATA:
    if key in config.data:
      c.data[key] = config.data[key]
  spec = datasets.DATASETS[dataset]
  if spec.grid is not None and spec.grid.train_steps:
    recipes.mubench_task(c, dataset)
  c.data.name = dataset
  if "captions" not in spec.features:
    c.data.captions_per_image = config_schema.default_config(
    ).data.captions_per_image
  c.model.image_size = c.data.image_size
  c.model.context_length = config.model.context_length  # the run's texts
  c.model.patch_size = max(1, c.data.image_size // 4)
  if config.eval.judge_steps:
    c.train.num_steps = config.eval.judge_steps
  c.train.batch_size = min(c.train.batch_size, config.data.num_train // 2)
  # A judge neither unlearns nor is evaluated: its deletion set (setup
  # draws one) need only fit.
  c.deletion.count = 1
  c.unlearn.df_batch_size = c.unlearn.dr_batch_size = 1
  c.eval.auc_num_samples = 1
  c.method.name = "finetune"
  c.distributed = config.distributed
  c.seed = config.seed
  return c


def datasets_of(exp) -> dict:
  """`{kind: dataset}` of the judges `exp` trains, with the judges'
  `VERSION` (none: {})."""
  if not exp.config.eval.get("judges") or not hasattr(exp.task,
                                                      "set_judges"):
    return {}
  found = {"classifier": exp.spec.judge_classifier,
           "encoder": exp.spec.judge_encoder}
  found = {k: v for k, v in found.items() if v}
  return {**found, "version": judges_lib.VERSION} if found else {}


def prepare(exp) -> None:
  """Trains or loads `exp`'s judges and hands them to its task
  (`TextToImage.set_judges`); nothing for a task without judges or with
  `eval.judges` off."""
  task = exp.task
  if not hasattr(task, "set_judges"):
    return
  wanted = datasets_of(exp)
  if not wanted:
    task.set_judges(None)
    return
  found = {kind: _train(exp, kind, dataset)
           for kind, dataset in wanted.items() if kind != "version"}
  labels = None
  if "classifier" in found:
    labels = {}
    for split in (exp.train, exp.test):
      ids = split.image_ids
      classes = pipeline.read_column(split.source, "label", "read classes")
      labels.update(zip(ids.tolist(), classes.tolist()))
  task.set_judges(judges_lib.Judges(labels=labels, **found))


def _train(exp, kind: str, dataset: str) -> judges_lib.Judge:
  config = judge_config(exp.config, dataset)
  workdir = os.path.join(exp.workdir, JUDGES_DIR, dataset)
  judge_exp = experiment_lib.setup(config, workdir)
  if kind == "encoder" and (judge_exp.tokenizer.get_vocab()
                            != exp.tokenizer.get_vocab()):
    raise errors.ConfigError(
        f"the judge encoder's dataset {dataset} tokenizes texts unlike "
        f"{exp.config.data.name}: its image-text cosine would read other "
        "token ids; give both the same tokenizer")
  params, _ = train_phase.train_model(judge_exp, "original")
  return judges_lib.Judge(kind, judge_exp.model, params,
                          tuple(config.data.mean), tuple(config.data.std))


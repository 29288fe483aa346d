"""Trains (once, resumably) and loads a text-to-image run's judges
(`evaluation.judges`): the project's image classifier on the dataset's
classification twin (`DatasetSpec.judge_classifier`) and its dual encoder
on its retrieval twin (`judge_encoder`), each a run of its own under
`<workdir>/judges/<dataset>_<setting>` over the same images, trained on
the whole training split (D: a judge has seen what is forgotten, as
SalUn's CIFAR-10 classifier has) by the ordinary training phase."""

from __future__ import annotations

import os

import ml_collections

from mmul_jax import config_schema
from mmul_jax import distributed
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax import recipes
from mmul_jax.data import datasets
from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import judges as judges_lib
from mmul_jax.unlearn import run_dirs
from mmul_jax.unlearn import train_phase

JUDGES_DIR = "judges"
# The data keys a judge shares with its run: the same generated items.
_SHARED_DATA = ("num_train", "num_test", "image_size", "seed",
                "captions_per_image", "data_dir", "manual_dir")


def judge_config(config: ml_collections.ConfigDict, dataset: str, *,
                 tokenizer_file: str = "",
                 num_devices: int = 1) -> ml_collections.ConfigDict:
  """The judge's run on `dataset`: the run's data settings, the project's
  default tiny model (patches of a quarter of the image side) and the
  dataset's grid recipe where it has one (`eval.judge_steps` > 0 sets the
  training steps); an encoder reads texts with the run's tokenizer
  (`tokenizer_file`, its vocabulary size and end of text); batches are
  multiples of `num_devices`."""
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
  if tokenizer_file:
    c.model.tokenizer = tokenizer_file
    c.model.vocab_size = config.model.vocab_size
    c.model.eot_id = config.model.eot_id
  if config.eval.judge_steps:
    c.train.num_steps = config.eval.judge_steps
  n = num_devices
  c.train.batch_size = max(n, min(c.train.batch_size,
                                  config.data.num_train // 2) // n * n)
  # A judge neither unlearns nor is evaluated: its deletion set (setup
  # draws one) need only fit.
  c.deletion.count = n
  c.unlearn.df_batch_size = c.unlearn.dr_batch_size = n
  c.eval.auc_num_samples = 1
  c.method.name = "finetune"
  c.distributed = config.distributed
  c.seed = config.seed
  return c


def datasets_of(exp) -> dict:
  """`{kind: dataset}` of the judges `exp` trains, with their
  `eval.judge_steps` and the judges' `VERSION` (a cached evaluation's
  key; none: {})."""
  if not exp.config.eval.get("judges") or not hasattr(exp.task,
                                                      "set_judges"):
    return {}
  found = {"classifier": exp.spec.judge_classifier,
           "encoder": exp.spec.judge_encoder}
  found = {k: v for k, v in found.items() if v}
  if not found:
    return {}
  return {**found, "steps": exp.config.eval.judge_steps,
          "version": judges_lib.VERSION}


def prepare(exp) -> None:
  """Trains or loads `exp`'s judges and hands them to its task
  (`TextToImage.set_judges`); nothing for a task without judges or with
  `eval.judges` off."""
  if not hasattr(exp.task, "set_judges"):
    return
  wanted = datasets_of(exp)
  if not wanted:
    exp.task.set_judges(None)
    return
  found = {kind: _train(exp, kind, wanted[kind])
           for kind in ("classifier", "encoder") if kind in wanted}
  labels = None
  if "classifier" in found:
    labels = {}
    for split in (exp.train, exp.test):
      ids = split.image_ids
      classes = pipeline.read_column(split.source, "label", "read classes")
      labels.update(zip(ids.tolist(), classes.tolist()))
  exp.task.set_judges(judges_lib.Judges(labels=labels, **found))


def _train(exp, kind: str, dataset: str) -> judges_lib.Judge:
  root = os.path.join(exp.workdir, JUDGES_DIR)
  tokenizer_file = ""
  if kind == "encoder":  # the run's token ids, whatever their source
    tokenizer_file = os.path.join(root, "tokenizer.json")
    with distributed.main_first("judge tokenizer"):
      if distributed.is_main():
        os.makedirs(root, exist_ok=True)
        io_utils.atomic_write_text(tokenizer_file, exp.tokenizer.to_str())
  config = judge_config(exp.config, dataset, tokenizer_file=tokenizer_file,
                        num_devices=exp.mesh.devices.size)
  # Its own directory per setting: another `eval.judge_steps` trains
  # another judge instead of meeting the first one's checkpoint.
  setting = run_dirs.digest({
      "train": config.train.to_dict(), "model": config.model.to_dict(),
      "data": {k: v for k, v in config.data.to_dict().items()
               if k not in experiment_lib.LOCATION_KEYS}})
  judge_exp = experiment_lib.setup(
      config, os.path.join(root, f"{dataset}_{setting[:10]}"))
  if kind == "encoder" and (judge_exp.tokenizer.get_vocab()
                            != exp.tokenizer.get_vocab()):
    raise RuntimeError("the judge encoder did not get the run's tokenizer")
  params, _ = train_phase.train_model(judge_exp, "original")
  return judges_lib.Judge(kind, judge_exp.model, params,
                          tuple(config.data.mean), tuple(config.data.std))


"""The BERT family through the whole loop: `model.arch = "bert"`
(`roberta`, `distilbert`) with the tiny checkpoints of
tests/fixtures/bert_golden (their tokenizers too) on the embedded IMDB
and DDI stand-ins (reviews, 2 classes; drug_relations, 5): the original
given as is or trained from a pretrained backbone, config and task
refusals before any compute; configs/bert_imdb.py and biobert_ddi.py
without their backbone (exit 2) and on the fake downloads. The whole
runs are in the slow suite."""

import json
import os

import bert_checkpoints
import numpy as np
import pytest
import script_checks

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import bert_weights
from mmul_jax.unlearn import run as run_lib

# Each test sets up or runs a whole experiment: the default suite keeps
# this family's golden parity tests only (time).
pytestmark = pytest.mark.slow


def _config(tiny_config, data_dir, layout="bert", dataset="reviews",
            **changes):
  path = bert_checkpoints.checkpoint(layout)
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = dataset
  c.model.pretrained = path
  c.model.update(bert_weights.model_keys(path))
  c.model.context_length = 16
  c.method.name = "neggrad"
  c.update_from_flattened_dict(changes)
  return c


@pytest.mark.parametrize("layout", [
    "bert",  # the golden tests cover the others' import: slow here
    *(pytest.param(x, marks=pytest.mark.slow) for x in ("roberta",
                                                        "distilbert"))])
def test_the_model_starts_from_the_checkpoint(tiny_config, data_dir,
                                              tmp_path, layout):
  c = _config(tiny_config, data_dir, layout)
  exp = experiment.setup(c, str(tmp_path))
  assert type(exp.model).__name__ == "BertClassifier"
  params = experiment.initial_params(exp, 0)["params"]
  state = bert_weights.read_state(c.model.pretrained)
  head = "classifier.out_proj" if layout == "roberta" else "classifier"
  kernel = params["classifier"]
  if layout == "roberta":
    kernel = kernel["out_proj"]
  np.testing.assert_array_equal(kernel["kernel"], state[head + ".weight"].T)


def test_the_original_given_and_retraining_from_the_pretrained_backbone(
    tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{
      "model.original": bert_checkpoints.checkpoint("bert"),
      "model.pretrained": bert_checkpoints.pretrained(tmp_path / "mlm")})
  exp = experiment.setup(c, str(tmp_path / "run"))
  start = experiment.initial_params(exp, 0)["params"]
  original = experiment.initial_params(exp, 0, c.model.original)["params"]
  assert not np.array_equal(start["classifier"]["kernel"],
                            original["classifier"]["kernel"])
  np.testing.assert_array_equal(
      start["bert"]["encoder"]["layer_1"]["output"]["dense"]["kernel"],
      original["bert"]["encoder"]["layer_1"]["output"]["dense"]["kernel"])


def test_refusals_before_any_compute(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, dataset="shapes_cifar")
  with pytest.raises(errors.ConfigError, match="is a text classifier"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, **{"model.arch": "roberta"})
  with pytest.raises(errors.ConfigError, match="model.arch = 'roberta' but "
                     "the checkpoint is a bert"):
    experiment.setup(c, str(tmp_path / "a"))
  # A 2-class classifier on the 5 relations of the DDI stand-in.
  c = _config(tiny_config, data_dir, dataset="drug_relations")
  with pytest.raises(errors.ConfigError, match="classifies into 2 classes; "
                     "this dataset has 5"):
    experiment.setup(c, str(tmp_path / "b"))
  c = _config(tiny_config, data_dir, **{"model.original": str(
      bert_checkpoints.pretrained(tmp_path / "mlm"))})
  with pytest.raises(errors.ConfigError, match="without the task's head"):
    experiment.setup(c, str(tmp_path / "c"))
  c = _config(tiny_config, data_dir, **{"model.original": str(
      tmp_path / "none")})
  with pytest.raises(errors.CheckpointError, match="huggingface-cli "
                     "download textattack/bert-base-uncased-imdb"):
    experiment.setup(c, str(tmp_path / "d"))
  assert not os.path.exists(tmp_path / "d" / "original")


@pytest.mark.slow  # about a minute each: compiling the encoder's passes
@pytest.mark.parametrize("layout,dataset", [("bert", "reviews"),
                                            ("roberta", "reviews"),
                                            ("distilbert", "drug_relations")])
def test_unlearning_runs_on_the_backbone(tiny_config, data_dir, tmp_path,
                                         layout, dataset):
  c = _config(tiny_config, data_dir, layout, dataset)
  if dataset == "drug_relations":  # a backbone: the 5-way head starts fresh
    c.model.pretrained = bert_checkpoints.pretrained(tmp_path / "mlm",
                                                     layout)
  results = run_lib.run(c, str(tmp_path / "run"))
  assert set(results.models) == {"original", "retrained", "neggrad"}
  for m in results.models.values():
    assert 0 <= m.metrics["test/accuracy"] <= 100


FIXTURES = os.path.dirname(bert_checkpoints.GOLDEN)


_recipe = script_checks.recipe_run


def _tiny_flags(path):
  keys = {**bert_weights.model_keys(path), "context_length": 16}
  return [f"--config.model.{k}={v}" for k, v in keys.items()] + [
      f"--config.model.pretrained={path}"]


@pytest.mark.parametrize("config,data,option,repository", [
    ("bert_imdb", "imdb", "", "google-bert/bert-base-uncased"),
    ("biobert_ddi", "ddi2013", "", "dmis-lab/biobert-v1.1"),
    ("biobert_ddi", "ddi2013", "backbone=pubmedbert-fulltext",
     "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext")])
def test_a_recipe_without_its_backbone_says_how_to_get_it(
    tmp_path, config, data, option, repository):
  """The data are there (the fake download), the backbone is not: exit 2,
  the download command of the backbone the recipe names, no compute."""
  r = _recipe(tmp_path, config, data, "--config.model.context_length=16",
              option=option)
  assert r.returncode == 2, r.stderr[-2000:]
  assert f"huggingface-cli download {repository}" in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes each: the encoder's passes compile
@pytest.mark.parametrize("config,data", [("bert_imdb", "imdb"),
                                         ("biobert_ddi", "ddi2013")])
def test_the_recipe_runs_on_the_fake_download(tmp_path, config, data):
  path = bert_checkpoints.checkpoint("bert")
  if data == "ddi2013":  # 5 relations: the backbone, a fresh head
    path = bert_checkpoints.pretrained(tmp_path / "mlm")
  r = _recipe(
      tmp_path, config, data, *_tiny_flags(path), *script_checks.QUICK_RUN,
      timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "bert"
  assert set(results["models"]) == {"original", "retrained", "randlabel"}

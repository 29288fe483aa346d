"""A dataset is its file plus one registry line, and an input type its
file plus its tower: the toy dataset of `toy_dataset.py` and the toy
modality of `toy_modality.py`, registered here, validate, build and run a
whole unlearning run like the embedded ones."""

import math
import os
import sys

import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import models
from mmul_jax.data import datasets
from mmul_jax.data.core import modalities
from mmul_jax.unlearn import run as run_lib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toy_dataset  # noqa: E402  (the dataset's own file)
import toy_modality  # noqa: E402  (the input type's own file)


def test_a_registered_dataset_runs_end_to_end(monkeypatch, tmp_path,
                                              tiny_config):
  c = tiny_config.copy_and_resolve_references()
  c.data.name = "toy_words"
  with pytest.raises(errors.ConfigError, match="data.name"):
    config_schema.validate(c)  # not registered yet
  monkeypatch.setitem(datasets.DATASETS, "toy_words", toy_dataset.SPEC)
  c.data.data_dir = str(tmp_path / "tfds")
  c.data.num_train, c.data.num_test = 40, 12
  c.train.batch_size = 8
  c.method.name = "finetune"
  c.tensorboard = False
  config_schema.validate(c)
  results = run_lib.run(c, str(tmp_path / "run"))
  assert results.task == "unimodal_classification"
  assert results.dataset.startswith("toy_words")
  for model in results.models.values():
    assert math.isfinite(model.metrics["test/accuracy"])
    assert math.isfinite(model.metrics["auc/p_true/mean"])


def test_a_new_input_type_is_its_file_plus_its_tower(monkeypatch, tmp_path,
                                                     tiny_config):
  monkeypatch.setitem(modalities.MODALITIES, "tabular",
                      toy_modality.Tabular())
  monkeypatch.setitem(models.CLASSIFIERS, "tabular",
                      toy_modality.MlpClassifier)
  monkeypatch.setitem(datasets.DATASETS, "toy_rows", toy_modality.SPEC)
  c = tiny_config.copy_and_resolve_references()
  c.data.name = "toy_rows"
  c.data.data_dir = str(tmp_path / "tfds")
  c.data.num_train, c.data.num_test = 80, 40
  c.train.batch_size = 8
  c.train.num_steps, c.train.learning_rate = 150, 1e-2  # the rule is easy
  c.method.name = "neggrad_plus"
  c.tensorboard = False
  results = run_lib.run(c, str(tmp_path / "run"))
  assert results.task == "unimodal_classification"
  original = results.models["original"].metrics
  # The tower learnt the rows' rule: the input reached it as it should.
  assert original["test/accuracy"] >= 80.0, original["test/accuracy"]
  for model in results.models.values():
    assert math.isfinite(model.metrics["auc/p_true/mean"])


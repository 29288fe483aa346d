"""A task kind is its file plus one registry line: the toy task of
`toy_task.py`, registered here, runs through setup, training, unlearning,
evaluation and the report; MMUL refuses it with one line."""

import dataclasses
import os
import sys

import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.unlearn import run as run_lib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toy_task  # noqa: E402  (the task's own file)


@pytest.fixture
def toy(monkeypatch):
  monkeypatch.setitem(tasks.TASKS, toy_task.SceneTruth.name,
                      toy_task.SceneTruth)  # the one registry line
  spec = dataclasses.replace(datasets.DATASETS["shapes_nlvr2"],
                             task=toy_task.SceneTruth.name)
  monkeypatch.setitem(datasets.DATASETS, "shapes_nlvr2", spec)


def _config(tiny_config, data_dir, method):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "shapes_nlvr2"
  c.method.name = method
  return c


@pytest.mark.slow
def test_a_registered_task_runs_every_phase(toy, tiny_config, data_dir,
                                            tmp_path, capsys):
  results = run_lib.run(_config(tiny_config, data_dir, "delete"),
                        str(tmp_path))
  assert results.task == "toy_scene_truth"
  assert set(results.models["delete"].retrain_gap) == {
      "test/accuracy", "df/accuracy", "dr/accuracy", "auc/p_true/mean",
      "mean"}  # the task's headline
  assert "truth acc" in capsys.readouterr().out  # the task's own table
  assert set(results.summary) == {"progress/auc/p_true"}
  assert 0 <= results.models["original"].metrics["test/accuracy"] <= 100


def test_mmul_refuses_a_task_without_two_modalities(toy, tiny_config,
                                                    data_dir):
  with pytest.raises(errors.ConfigError,
                     match="MMUL needs two modalities; task "
                     "'toy_scene_truth' has one"):
    config_schema.validate(_config(tiny_config, data_dir, "mmul"))


def test_unknown_task_names_the_registered_ones():
  with pytest.raises(errors.ConfigError, match="unknown task 'nope'.*"
                     "classification, generation, graph_text, image_generation, "
                     "retrieval"):
    tasks.get("nope")

"""What a run checks before its compute, and what it keeps apart from what
it refuses: a comparison's shadow audit that cannot run, the same data
under another spelling of `data.data_dir` (the trained model is reused)
against other data (refused), and a deletion too small for the
membership attack (the run keeps its other metrics)."""

import json
import math
import os

import jax
import numpy as np
import pytest

from mmul_jax import checkpoint
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.evaluation import mubench
from mmul_jax.unlearn import compare
from mmul_jax.unlearn import phases


def test_compare_refuses_an_audit_with_early_stopping_before_the_grid(
    tmp_path, tiny_config, data_dir):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.unlearn.eval_every, c.unlearn.early_stopping = 1, "retrain_gap"
  with pytest.raises(errors.ConfigError,
                     match="shadow models unlearn under vmap"):
    compare.compare(c, str(tmp_path / "wd"), ["finetune"], shadow_models=3)
  assert not (tmp_path / "wd").exists()


def _setup(tiny_config, spelling, workdir, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = spelling
  c.train.num_steps, c.train.checkpoint_every = 1, 1
  c.tensorboard = False
  c.update_from_flattened_dict(changes)
  return experiment.setup(c, workdir)


def _guard(exp):
  """The trained original's checkpointer, as `train_model` makes it."""
  directory = phases.model_dir(exp, "original")
  return checkpoint.Checkpointer(directory, phases.as_recorded(
      directory, phases.train_fingerprint(exp, "original")))


@pytest.fixture
def spellings(tmp_path, data_dir, tiny_builder, monkeypatch):
  """Four spellings of `data_dir`: the TFDS default (with HOME moved),
  spelt out or not, the path and the path with a trailing slash."""
  del tiny_builder  # prepared in data_dir
  home = tmp_path / "home"
  home.mkdir()
  os.symlink(data_dir, home / "tensorflow_datasets")
  monkeypatch.setenv("HOME", str(home))
  return (data_dir, "", "~/tensorflow_datasets", data_dir + "/")


def _record(workdir):
  return os.path.join(workdir, "original", checkpoint.FINGERPRINT_FILE)


def test_data_is_keyed_by_what_it_is_not_where_it_lies(
    tmp_path, tiny_config, spellings):
  workdir = str(tmp_path / "wd")
  first = _guard(_setup(tiny_config, spellings[0], workdir))
  first.save(1, {"w": np.zeros(2, np.float32)})  # a finished model
  first.close()
  for spelling in spellings[1:]:  # the same data: accepted
    _guard(_setup(tiny_config, spelling, workdir)).close()
  with open(_record(workdir)) as f:
    recorded = json.load(f)
  assert "data_dir" not in recorded["data"]
  assert "manual_dir" not in recorded["data"]
  assert recorded["dataset_version"] == "1.0.0"
  with pytest.raises(errors.CheckpointError,
                     match=r"another config \(differs in: data.seed "
                     r"\(0 -> 1\)"):
    _guard(_setup(tiny_config, "", workdir, **{"data.seed": 1}))
  # A model recorded with its data's path (before data was keyed by what
  # it is) stays valid under any spelling; other data is still refused.
  recorded["data"].update(data_dir="/elsewhere/tfds", manual_dir="")
  del recorded["dataset_version"]
  with open(_record(workdir), "w") as f:
    json.dump(recorded, f)
  for spelling in spellings:
    _guard(_setup(tiny_config, spelling, workdir)).close()
  with pytest.raises(errors.CheckpointError,
                     match=r"differs in: data.num_train \(80 -> 40\)"):
    _guard(_setup(tiny_config, spellings[0], workdir,
                  **{"data.num_train": 40}))


@pytest.mark.slow
def test_a_trained_model_is_reused_under_another_data_dir_spelling(
    tmp_path, tiny_config, spellings):
  workdir = str(tmp_path / "wd")
  train = lambda spelling, **changes: phases.train_model(
      _setup(tiny_config, spelling, workdir, **changes), "original")
  params, info = train(spellings[0])
  for spelling in spellings[1:]:
    again, info_again = train(spelling)  # loaded, not trained again
    assert info_again == info, spelling
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(params)):
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  with pytest.raises(errors.CheckpointError, match="data.seed"):
    train("", **{"data.seed": 1})


@pytest.mark.slow
def test_one_deleted_image_runs_with_the_attack_not_computable(
    tmp_path, tiny_config, data_dir, caplog):
  from mmul_jax.unlearn import run as run_lib
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.deletion.count = 1
  c.unlearn.df_batch_size = 1
  c.train.num_steps, c.unlearn.num_steps = 2, 1
  c.method.name = "finetune"
  c.tensorboard = False
  with caplog.at_level("WARNING"):
    results = run_lib.run(c, str(tmp_path))
  assert any("membership attack (mubench/mia/*) is not computable with 4 "
             "members (Dr)" in r.getMessage() for r in caplog.records)
  for m in results.models.values():
    assert math.isnan(m.metrics["mubench/mia/target_auc"])
    assert "needs at least 5" in m.metrics[
        f"mubench/mia/{mubench.NOT_COMPUTABLE}"]
    assert math.isfinite(m.metrics["mubench/knowledge_gap"])
  assert math.isfinite(results.models["finetune"].retrain_gap["mean"])
  with open(tmp_path / run_lib.RESULTS_FILE) as f:
    assert json.load(f)["deletion"]["num_forget_units"] == 1

"""The shadow evaluation end to end on the tiny model: K models per kind
under vmap, per-example scores saved and rescored, and the audit's known
answer (the retrain "method" is the retrained models themselves)."""

import json
import os

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import shadow


def _config(tiny_config, data_dir, methods, k=4):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.train.num_steps = 4
  c.unlearn.num_steps = 2
  c.shadow.num_models = k
  c.shadow.methods = methods
  c.method.name = methods[0]
  return c


@pytest.mark.slow
def test_shadow_run_audits_every_representation(tmp_path, tiny_config,
                                                data_dir):
  c = _config(tiny_config, data_dir, ("finetune", "retrain"))
  record = shadow.run(c, str(tmp_path))
  assert record["seeds"] == [0, 1, 2, 3]
  audit = record["audit"]
  assert set(audit) == {"original", "retrained", "finetune", "retrain"}
  reps = {"image", "text", "cosine", "match", "fusion"}
  for model, rows in audit.items():
    assert set(rows) == reps
    for row in rows.values():
      assert 0 <= row["df_vs_dr_auc"]["mean"] <= 1
      assert len(row["df_vs_dr_auc"]["values"]) == 4
  for rep, row in audit["retrain"].items():
    # Unlearning by retraining is the reference: nothing to tell apart.
    assert row["ulira"]["auc"] == 0.5, rep
    assert row["ulira_dr_relative"]["auc"] == 0.5, rep
    assert row["ks"]["df"]["pooled"] == 1.0
    assert row["epsilon"]["quality"] == 1.0
  # The original's vectors are its own: cosine 1 to itself, no separation.
  assert audit["original"]["image"]["df_vs_dr_auc"]["mean"] == 0.5
  root = os.path.dirname(
      next(p for p in (tmp_path / "shadow").rglob(shadow.SCORES_FILE)))
  with open(os.path.join(root, shadow.RESULTS_FILE)) as f:
    assert json.load(f)["leaks"]["retrain"] == []
  scores, task = score_files.load(os.path.join(root, shadow.SCORES_FILE))
  assert task == "retrieval"
  assert scores["finetune"]["df"]["cosine"].shape[0] == 4
  rescored, table = shadow.rescore(os.path.join(root, shadow.SCORES_FILE),
                                   auc_num_samples=c.eval.auc_num_samples)
  assert rescored["finetune"]["cosine"]["ulira"]["auc"] == pytest.approx(
      audit["finetune"]["cosine"]["ulira"]["auc"])
  assert "| pair cosine |" in table
  assert "Closest to retrained" in table
  # Unlearning by retraining is indistinguishable from it: ranked first.
  assert record["ranking"][0]["model"] == "retrain"
  assert record["ranking"][0]["distance"] == 0.0
  # A rerun reloads every finished model and its cached scores.
  again = shadow.run(c, str(tmp_path))
  np.testing.assert_allclose(
      again["audit"]["finetune"]["match"]["ulira"]["auc"],
      audit["finetune"]["match"]["ulira"]["auc"])


def test_shadow_refuses_bad_settings_before_compute(tmp_path, tiny_config,
                                                    data_dir):
  with pytest.raises(errors.ConfigError, match="unknown method"):
    shadow.run(_config(tiny_config, data_dir, ("finetune", "nope")),
               str(tmp_path))
  with pytest.raises(errors.ConfigError, match="distinct"):
    shadow.run(_config(tiny_config, data_dir, ("finetune", "finetune")),
               str(tmp_path))
  with pytest.raises(errors.ConfigError, match="shadow.num_models"):
    shadow.run(_config(tiny_config, data_dir, ("finetune",), k=0),
               str(tmp_path))
  assert not (tmp_path / "shadow").exists()


def test_the_original_differs_from_retraining_where_it_memorised(
    tmp_path, tiny_config, data_dir):
  """The case the audit must tell apart: trained long enough to memorise
  its 8 deleted images (24 epochs of 80), the original scores them
  unlike the retrained models do, while unlearning by retraining is the
  reference itself (0.5, by construction)."""
  c = _config(tiny_config, data_dir, ("retrain",), k=3)
  c.train.num_steps = 120
  c.train.warmup_steps = 10
  c.train.checkpoint_every = c.train.log_every = 120
  c.tensorboard = False
  record = shadow.run(c, str(tmp_path))
  audit = record["audit"]
  for rep in ("cosine", "match"):
    assert audit["retrain"][rep]["ulira"]["auc"] == 0.5, rep
  # Memorised pairs: the original's own scores tell it from retraining.
  assert audit["original"]["cosine"]["ulira"]["auc"] >= 0.75
  assert audit["original"]["cosine"]["df_vs_dr_auc"]["mean"] < (
      audit["retrained"]["cosine"]["df_vs_dr_auc"]["mean"])
  assert record["ranking"][0]["model"] == "retrain"
  assert "cosine" in record["leaks"]["original"]
  assert record["leaks"]["retrain"] == []


@pytest.mark.parametrize("changes,message", [
    ({"shadow.num_models": 2}, "shadow.num_models must be at least 3"),
    ({"shadow.num_models": 1}, "shadow.num_models must be at least 3"),
    ({"unlearn.eval_every": 1, "unlearn.early_stopping": "retrain_gap"},
     "unlearn.early_stopping = 'retrain_gap' evaluate one model at a time"),
    ({"unlearn.eval_every": 1}, "unlearn.eval_every = 1 and"),
])
def test_what_the_audit_cannot_run_is_refused_before_training(
    tmp_path, tiny_config, data_dir, changes, message):
  c = _config(tiny_config, data_dir, ("finetune",))
  c.update_from_flattened_dict(changes)
  with pytest.raises(errors.ConfigError, match=message):
    shadow.run(c, str(tmp_path))
  assert not (tmp_path / "shadow").exists()
  assert not list(tmp_path.iterdir())  # not even the deletion manifests


def test_corrupt_score_file_is_one_clear_error(tmp_path):
  path = tmp_path / "scores.npz"
  path.write_bytes(b"not a zip")
  with pytest.raises(errors.DataError, match="unreadable"):
    score_files.load(str(path))
  with pytest.raises(errors.DataError, match="no score file"):
    score_files.load(str(tmp_path / "missing.npz"))


@pytest.mark.slow
def test_single_run_saves_every_models_scores(tmp_path, tiny_config,
                                              data_dir):
  from mmul_jax.unlearn import run as run_lib
  c = _config(tiny_config, data_dir, ("finetune",))
  results = run_lib.run(c, str(tmp_path))
  scores, task = score_files.load(str(tmp_path / run_lib.SCORES_FILE))
  assert task == "retrieval"
  assert set(scores) == set(results.models)
  df = scores["finetune"]["df"]
  assert len(df["cosine"]) == results.deletion.num_forget_examples
  assert float(np.mean(df["cosine"])) == pytest.approx(
      results.models["finetune"].metrics["df/mean_pair_cosine"], rel=1e-5)


def test_method_configs_apply_each_methods_settings(tiny_config, data_dir):
  c = _config(tiny_config, data_dir, ("finetune", "salun"))
  configs = shadow.method_configs(
      c, {"salun": {"unlearn.learning_rate": 3e-4}})
  assert configs["salun"].unlearn.learning_rate == 3e-4
  assert configs["salun"].method.name == "salun"
  assert (configs["finetune"].unlearn.learning_rate
          == c.unlearn.learning_rate)
  with pytest.raises(errors.ConfigError):
    shadow.method_configs(c, {"salun": {"unlearn.num_steps": -1}})

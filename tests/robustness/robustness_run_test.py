"""The robustness check: the recovery table from metrics and the
settings refused before any compute (default suite); end to end on the
tiny retrieval model (slow suite), every model evaluated as it is, under
each quantisation scheme and after relearning (cached for the fixed
models), the recovery scores computed from those metrics, the record
written."""

import json
import os
import types

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.robustness import recovery
from mmul_jax.unlearn import robustness


def test_the_recovery_table_scores_every_model_but_the_retrained_one():
  metrics = {
      "none": {"original": {"a": 0.9}, "retrained": {"a": 0.5},
               "npo": {"a": 0.5}},
      "int4": {"original": {"a": 0.9}, "retrained": {"a": 0.6},
               "npo": {"a": 0.8}}}
  table = robustness.recovery_table(metrics, ["int4"])
  assert set(table["int4"]) == {"original", "npo"}
  # npo moved 0.3 where retraining moved 0.1: R = 1 - 0.2 / 0.4.
  assert table["int4"]["npo"]["a"] == pytest.approx(0.5)
  assert table["int4"]["original"]["a"] == pytest.approx(0.0)


def test_forgetting_recovery_averages_the_forgetting_metrics_per_attack():
  from mmul_jax import tasks
  task = tasks.Retrieval(None)
  keys = robustness.forgetting_metrics(task)
  assert keys == ["df/itc/r1_mean", "auc/cosine/mean", "auc/match/mean"]
  record = {"attacks": ["int4", "relearn_forget_5"], "recovery": {
      "int4": {"npo": {"df/itc/r1_mean": 0.2, "auc/cosine/mean": 0.4,
                       "auc/match/mean": float("nan"),
                       "test/itc/r1_mean": 0.0}},
      "relearn_forget_5": {"npo": {k: 1.0 for k in keys}}}}
  got = robustness.forgetting_recovery(record, task)
  assert list(got) == ["int4", "relearn_forget_5"]
  assert got["int4"]["npo"] == pytest.approx(0.3)  # NaN left out
  assert got["relearn_forget_5"]["npo"] == 1.0


@pytest.mark.parametrize("key,value,match", [
    ("robustness.quantize", ("int9",), "bits"),
    ("robustness.relearn_steps", (5, 2), "increasing"),
    ("robustness.relearn_data", "paraphrase", "not one of"),
    ("robustness.relearn_batch_size", 16, "exceeds"),
])
def test_bad_robustness_settings_are_refused(key, value, match):
  c = config_schema.default_config()
  c.update_from_flattened_dict({key: value})
  with pytest.raises(errors.ConfigError, match=match):
    config_schema.validate(c)


def test_a_check_without_attacks_is_refused_before_any_compute(tmp_path):
  c = config_schema.default_config()
  c.robustness.quantize, c.robustness.relearn_steps = (), ()
  with pytest.raises(errors.ConfigError, match="both empty"):
    robustness.check(c, str(tmp_path))
  assert not os.listdir(tmp_path)


def test_same_class_relearning_needs_classes():
  class Split:  # a split whose records have no class
    source = [{"image_id": 0}]
    image_ids = np.asarray([0])

    def __len__(self):
      return 1

  c = config_schema.default_config()
  c.robustness.relearn_data = "same_class"
  exp = types.SimpleNamespace(config=c, train=Split(), dataset_name="x")
  with pytest.raises(errors.ConfigError, match="no class"):
    robustness._labels(exp)
  c.robustness.relearn_data = "forget"
  assert robustness._labels(exp) is None


@pytest.mark.slow
def test_robustness_check_scores_each_model_against_retraining(
    tmp_path, tiny_config, data_dir):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.method.name = "finetune"
  c.robustness.quantize = ("bf16", "int2")
  c.robustness.relearn_steps = (2, 6)
  c.robustness.relearn_units = c.robustness.relearn_batch_size = 4
  c.robustness.relearn_seeds = 2
  record = robustness.check(c, str(tmp_path))
  attacks = ["bf16", "int2", "relearn_forget_2", "relearn_forget_6"]
  assert record["attacks"] == attacks
  m = record["metrics"]
  assert set(m) == {"none", *attacks}
  assert set(m["none"]) == {"original", "retrained", "finetune"}
  auc = "auc/cosine/mean"
  # bf16 barely moves a model; 2 bits per weight move it more.
  for name in m["none"]:
    assert abs(m["bf16"][name][auc] - m["none"][name][auc]) < 0.05
  moved = lambda s: sum(abs(m[s][n][auc] - m["none"][n][auc])
                        for n in m["none"])
  assert moved("int2") > moved("bf16")
  r = record["recovery"]["int2"]["finetune"][auc]
  want = recovery.recovery_score(
      m["int2"]["finetune"][auc] - m["none"]["finetune"][auc],
      m["int2"]["retrained"][auc] - m["none"]["retrained"][auc])
  assert r == pytest.approx(want) and "retrained" not in (
      record["recovery"]["int2"])
  with open(tmp_path / robustness.ROBUSTNESS_FILE) as f:
    assert json.load(f)["metrics"]["int2"]["finetune"][auc] == (
        pytest.approx(m["int2"]["finetune"][auc]))
  cached = list((tmp_path / "original").glob("eval_*_int2.npz"))
  assert len(cached) == 1 and np.isfinite(r)
  # Relearning on Df brings Df's matching back up, more with more steps,
  # for the retrained model too (it never saw Df); two seeds disagree.
  r1 = next(k for k in m["none"]["original"] if "df" in k and "r1" in k)
  for name in m["none"]:
    assert m["relearn_forget_6"][name][r1] >= m["none"][name][r1] - 0.05
  assert record["spread"]["relearn_forget_6"]["retrained"][auc] > 0
  assert m["relearn_forget_6"]["retrained"][auc] != pytest.approx(
      m["none"]["retrained"][auc])
  # A relearning change is from the unattacked model on the same sets
  # (Df without the seed's units: 4 of the 8 left).
  b = record["before"]["relearn_forget_6"]
  assert b["retrained"][r1] != pytest.approx(m["none"]["retrained"][r1])
  want = recovery.recovery_score(
      m["relearn_forget_6"]["finetune"][auc] - b["finetune"][auc],
      m["relearn_forget_6"]["retrained"][auc] - b["retrained"][auc])
  assert record["recovery"]["relearn_forget_6"]["finetune"][auc] == (
      pytest.approx(want))
  assert len(list((tmp_path / "retrain").glob("*/relearn_*.json"))) == 1
  assert (tmp_path / robustness.PLOT_FILE).exists()
  assert set(record["forgetting_recovery"]) == set(attacks)
  # Run again: every attack's result is read back, not recomputed.
  again = robustness.check(c, str(tmp_path))
  assert again["metrics"] == m

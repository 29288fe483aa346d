"""The quantisation check: the recovery table from metrics (default
suite); end to end on the tiny retrieval model (slow suite), every model
evaluated as it is and under each scheme (cached for the fixed models),
the recovery scores computed from those metrics, the record written; an
unknown scheme refused before any compute."""

import json
import os

import numpy as np
import pytest

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


@pytest.mark.slow
def test_quantization_check_scores_each_model_against_retraining(
    tmp_path, tiny_config, data_dir):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.method.name = "finetune"
  record = robustness.quantization(c, str(tmp_path), ["bf16", "int2"])
  assert record["schemes"] == ["bf16", "int2"]
  m = record["metrics"]
  assert set(m) == {"none", "bf16", "int2"}
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


def test_an_unknown_scheme_is_refused_before_any_compute(tmp_path,
                                                         tiny_config):
  with pytest.raises(errors.ConfigError, match="--quantize: unknown"):
    robustness.quantization(tiny_config, str(tmp_path), ["int16"])
  assert not os.listdir(tmp_path)

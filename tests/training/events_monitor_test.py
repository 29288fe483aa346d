"""TensorBoard events of every phase, read back; evaluation during unlearning
and early stopping that chooses a step without reading test data."""

import os

import jax
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax import config_schema
from mmul_jax.training import events
from mmul_jax.unlearn import phases


def _config(tiny_config, data_dir, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.unlearn.num_steps = 8
  c.unlearn.eval_every = 2
  c.unlearn.eval_units = 6
  c.unlearn.schedule = "constant"  # step s of an 8-step run = an s-step run
  c.update_from_flattened_dict(changes)
  config_schema.validate(c)
  return c


class _NoTestSplit:
  """Stands in for the test split: touching it fails the test."""

  def __getattr__(self, name):
    raise AssertionError(f"the test split was read ({name})")


def _setup(c, workdir):
  exp = experiment.setup(c, str(workdir))
  original, _ = phases.train_model(exp, "original")
  retrained, _ = phases.train_model(exp, "retrain")
  exp.test = _NoTestSplit()  # from here on nothing may read it
  return exp, original, retrained


def test_scalars_flatten_lanes_and_skip_flags():
  assert events.scalars({"loss": 1.5, "params_finite": True,
                         "gap": [0.1, 0.2], "note": "x"}) == {
      "loss": 1.5, "gap/model_0": 0.1, "gap/model_1": 0.2}


def test_events_of_each_phase_and_the_evaluations(tmp_path, tiny_builder,
                                                  data_dir, tiny_config):
  c = _config(tiny_config, data_dir)
  exp, original, retrained = _setup(c, tmp_path)
  _, info = phases.unlearn_model(exp, original, reference=retrained)
  tb = os.path.join(str(tmp_path), events.TB_DIR)
  trained = events.read(os.path.join(tb, "original"))
  assert {"loss", "grad_norm", "learning_rate", "step_seconds"} <= set(
      trained)
  logged = [s for s, _ in trained["loss"]]
  assert logged == [h["step"] for h in
                    phases.train_model(exp, "original")[1]["history"]]
  # The warmup's first logged learning rate is the schedule's, not the peak.
  assert trained["learning_rate"][0][1] < c.train.learning_rate
  run_dir = os.path.relpath(phases.unlearn_dir(exp), str(tmp_path))
  got = events.read(os.path.join(tb, run_dir))
  # Every loss term of the composed method is there.
  terms = {k for k in info["history"][0] if k not in ("step",
                                                      "params_finite")}
  assert terms <= set(got) and len(terms) > 3
  evaluations = info["monitor"]["evaluations"]
  assert [e["step"] for e in evaluations] == [2, 4, 6, 8]
  for e in evaluations:
    assert set(e) >= {"df", "dr", "auc", "gap"} and "val" not in e
  assert [v for _, v in got["eval/gap"]] == pytest.approx(
      [e["gap"] for e in evaluations])
  assert {"eval/df", "eval/dr", "eval/auc/cosine"} <= set(got)
  # Without early stopping the run returns its last step.
  assert info["monitor"]["chosen_step"] is None


def test_tensorboard_off_writes_nothing(tmp_path, tiny_builder, data_dir,
                                        tiny_config):
  c = _config(tiny_config, data_dir, **{"tensorboard": False,
                                        "unlearn.eval_every": 0})
  exp = experiment.setup(c, str(tmp_path))
  phases.train_model(exp, "original")
  assert not os.path.exists(os.path.join(str(tmp_path), events.TB_DIR))


def test_early_stopping_returns_the_closest_step_and_survives_a_rerun(
    tmp_path, tiny_builder, data_dir, tiny_config):
  c = _config(tiny_config, data_dir, **{
      "unlearn.early_stopping": "retrain_gap", "unlearn.patience": 1})
  exp, original, retrained = _setup(c, tmp_path / "a")
  params, info = phases.unlearn_model(exp, original, reference=retrained)
  m = info["monitor"]
  gaps = {e["step"]: e["gap"] for e in m["evaluations"]}
  chosen = m["chosen_step"]
  assert chosen == min(gaps, key=lambda s: (gaps[s], s))
  # Patience 1: the run stops at the first evaluation that is not closer.
  later = [s for s in gaps if s > chosen]
  assert later == ([] if chosen == 8 else [chosen + 2])
  assert m["stopped_at"] == (None if chosen >= 6 else chosen + 2)
  # The returned model is the one of that step: an unmonitored run of
  # `chosen` steps (constant schedule) ends at the same parameters.
  c2 = _config(tiny_config, data_dir, **{"unlearn.eval_every": 0,
                                         "unlearn.num_steps": chosen})
  exp2, original2, _ = _setup(c2, tmp_path / "a")
  plain, _ = phases.unlearn_model(exp2, original2)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6),
               params, plain)
  # A finished run loads the chosen step again (from best/), and so does
  # one whose record was lost after the last checkpoint.
  again, info2 = phases.unlearn_model(exp, original, reference=retrained)
  assert info2["monitor"]["chosen_step"] == chosen
  jax.tree.map(np.testing.assert_array_equal, again, params)
  os.remove(os.path.join(phases.unlearn_dir(exp), phases.UNLEARN_INFO_FILE))
  rerun, info3 = phases.unlearn_model(exp, original, reference=retrained)
  assert info3["monitor"]["chosen_step"] == chosen
  jax.tree.map(np.testing.assert_array_equal, rerun, params)


def test_early_stopping_needs_the_retrained_model_and_one_lane(
    tmp_path, tiny_builder, data_dir, tiny_config):
  c = _config(tiny_config, data_dir, **{
      "unlearn.early_stopping": "retrain_gap"})
  exp = experiment.setup(c, str(tmp_path))
  original, _ = phases.train_model(exp, "original")
  with pytest.raises(errors.ConfigError, match="needs the retrained model"):
    phases.unlearn_model(exp, original)
  with pytest.raises(errors.ConfigError, match="one model at a time"):
    phases.unlearn_model(exp, jax.tree.map(lambda x: np.stack([x, x]),
                                           original), seeds=(0, 1))


@pytest.mark.parametrize("changes,message", [
    ({"unlearn.early_stopping": "retrain_gap", "unlearn.eval_every": 0},
     "needs unlearn.eval_every > 0"),
    ({"unlearn.patience": 2}, "set unlearn.early_stopping"),
    ({"unlearn.early_stopping": "best"}, "is not one of"),
])
def test_bad_monitor_settings_are_refused(tiny_config, changes, message):
  c = tiny_config.copy_and_resolve_references()
  for k, v in changes.items():
    section, key = k.split(".")
    c[section][key] = v
  with pytest.raises(errors.ConfigError, match=message):
    config_schema.validate(c)


def test_default_monitor_keys_keep_earlier_run_directories(tiny_config):
  c = tiny_config.copy_and_resolve_references()
  before = phases.unlearn_settings(c)
  assert not set(phases.MONITOR_KEYS) & set(before)
  c.unlearn.eval_every = 5  # monitoring alone changes no result
  assert phases.settings_digest(c) == phases.settings_digest(tiny_config)
  c.unlearn.early_stopping = "retrain_gap"
  assert phases.settings_digest(c) != phases.settings_digest(tiny_config)

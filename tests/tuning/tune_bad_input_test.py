"""Bad input to the tuner stops it with one clear line, before any
compute: a study whose search space changed is kept apart, a journal cut
short by a kill is repaired, a half-asked trial never becomes the tuned
setting, MMUL is refused on one modality before a model trains, and a
hand-edited tuned.json is checked entry by entry."""

import json
import logging
import os

import pytest

import script_checks  # tests/ is on sys.path (conftest)
from mmul_jax import errors
from mmul_jax import tuning
from mmul_jax.tuning import study as study_lib
from mmul_jax.unlearn import compare
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import tune

SPACE = {"unlearn.learning_rate": tuning.Param(1e-5, 1e-2, "log"),
         "unlearn.num_steps": tuning.Param(scale="choice", choices=(2, 3))}


def _batch(path, sp, size=2, gap=0.5):
  """Asks and tells one batch of `size` trials over `sp`."""
  s = study_lib.open_study(path, "npo", startup_trials=1)
  index = study_lib.next_batch_index(s)
  for t in study_lib.ask_batch(s, sp, size, index):
    study_lib.tell(s, t, (gap, 0.5))
  return study_lib.open_study(path, "npo")


# --- the journal -----------------------------------------------------------


def test_a_journal_cut_short_by_a_kill_is_repaired(tmp_path, caplog):
  path = str(tmp_path / "studies" / "npo.journal")
  _batch(path, SPACE)
  data = open(path, "rb").read()
  with open(path, "wb") as f:  # killed while writing its last record
    f.write(data[:-20])
  with caplog.at_level(logging.WARNING):
    s = _batch(path, SPACE)  # appends after the cut: no splice
  assert "cut short" in caplog.text and path in caplog.text
  s = study_lib.open_study(path, "npo")  # and reads back
  assert len(s.get_trials()) == 4
  assert all(json.loads(line) for line in open(path))


def test_a_corrupt_journal_line_is_one_error_naming_file_and_line(tmp_path):
  path = str(tmp_path / "studies" / "npo.journal")
  _batch(path, SPACE)
  lines = open(path, "rb").read().split(b"\n")
  lines[2] = lines[2][:30] + lines[3]  # a record spliced onto a torn one
  with open(path, "wb") as f:
    f.write(b"\n".join(lines))
  with pytest.raises(errors.DataError,
                     match=rf"{path}, line 3 is not a journal record.*"
                     "move the file aside"):
    study_lib.open_study(path, "npo")


# --- a study and its search space ------------------------------------------


def _claim(path, sp, fixed=None):
  return study_lib.claim(path, "npo", study_lib.describe(sp, fixed))


def test_a_changed_search_space_starts_a_new_study(tmp_path):
  path = str(tmp_path / "studies" / "npo.journal")
  assert _claim(path, SPACE) is None
  _batch(path, SPACE)
  # Other step counts: Optuna alone would raise "CategoricalDistribution
  # does not support dynamic value space" on the next ask.
  other = {**SPACE, "unlearn.num_steps": tuning.Param(scale="choice",
                                                      choices=(2, 4))}
  note = _claim(path, other)
  old = study_lib.digest(study_lib.describe(SPACE))
  assert f"kept it as npo.{old}.journal" in note
  assert "unlearn.num_steps" in note and "new study" in note
  assert os.path.exists(tmp_path / "studies" / f"npo.{old}.journal")
  s = _batch(path, other)
  assert len(s.get_trials()) == 2
  assert all(t.params["unlearn.num_steps"] in (2, 4) for t in s.get_trials())
  # Another shared setting is another study too.
  assert "unlearn.dr_batch_size" in _claim(
      path, other, {"unlearn.dr_batch_size": 16})
  # The first space again: its study is taken up with its trials.
  assert "took up again" in _claim(path, SPACE)
  s = study_lib.open_study(path, "npo")
  assert len(s.get_trials()) == 2
  assert all(t.params["unlearn.num_steps"] in (2, 3) for t in s.get_trials())
  assert _claim(path, SPACE) is None  # unchanged: nothing moves


def test_a_study_from_before_spaces_were_recorded(tmp_path):
  path = str(tmp_path / "studies" / "npo.journal")
  _batch(path, SPACE)  # no claim: as the tuner wrote studies before
  assert _claim(path, SPACE) is None  # the same space: adopted
  assert len(study_lib.open_study(path, "npo").get_trials()) == 2
  lower = {**SPACE, "unlearn.learning_rate": tuning.Param(1e-6, 1e-4,
                                                          "log")}
  os.remove(path)
  _batch(path, SPACE)
  assert "unlearn.learning_rate" in _claim(path, lower)
  assert study_lib.open_study(path, "npo").get_trials() == []


def test_a_half_defined_trial_is_never_the_tuned_setting(tmp_path):
  path = str(tmp_path / "studies" / "npo.journal")
  s = study_lib.open_study(path, "npo")
  dists = tuning.to_optuna(SPACE)
  # Asked over part of the space (a crash mid-ask, or an older space),
  # with the best objectives, and one left running.
  part = s.ask({"unlearn.learning_rate": dists["unlearn.learning_rate"]})
  s.tell(part.number, [0.01, 0.9])
  s.ask({"unlearn.learning_rate": dists["unlearn.learning_rate"]})
  whole = s.ask(dists)
  s.tell(whole.number, [0.2, 0.5])
  assert study_lib.fail_incomplete(s, SPACE) == 1
  assert study_lib.running_batch(s) == []
  assert study_lib.budget_used(s) == 2  # the unrun trial is not counted
  record = tune.summarise(s, 0.0, SPACE)
  assert record["chosen"]["trial"] == whole.number
  assert set(record["chosen"]["setting"]) == set(SPACE)


def test_a_failed_ask_leaves_no_running_trial(tmp_path, monkeypatch):
  path = str(tmp_path / "studies" / "npo.journal")
  s = study_lib.open_study(path, "npo")
  calls = []
  ask = s.ask

  def flaky(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
      raise ValueError("CategoricalDistribution does not support dynamic "
                       "value space")
    return ask(*args, **kwargs)

  monkeypatch.setattr(s, "ask", flaky)
  with pytest.raises(ValueError, match="dynamic value space"):
    study_lib.ask_batch(s, SPACE, 2, 0)
  assert study_lib.counts(s) == {"FAIL": 2}  # the lead and the queued
  assert study_lib.budget_used(s) == 0


# --- tuned.json ------------------------------------------------------------


GOOD = {"unlearn.learning_rate": 2e-4, "unlearn.num_steps": 2,
        "method.mmul.md_weight": 3.0}


@pytest.mark.parametrize("name,setting,message", [
    ("mmul", {**GOOD, "unlearn.learning_rate": "1e-3"},
     r"method 'mmul': unlearn.learning_rate = '1e-3' must be a number, "
     "like its default"),
    ("mmul", {**GOOD, "unlearn.num_steps": 2.7},
     r"method 'mmul': unlearn.num_steps = 2.7 must be an integer"),
    ("mmul", {**GOOD, "unlearn.num_steps": True},
     r"method 'mmul': unlearn.num_steps = True must be an integer"),
    ("mmul", {**GOOD, "unlearn.num_steps": 0},
     r"method 'mmul', unlearn.num_steps: unlearn.num_steps must be a "
     "positive integer"),
    ("mmul", {"unlearn.learnig_rate": 1e-3},
     r"method 'mmul': unknown config key 'unlearn.learnig_rate'; did you "
     "mean 'unlearn.learning_rate'\\?"),
    ("mmul", {**GOOD, "method.mmul.md_weight": -1.0},
     r"method 'mmul', method.mmul.md_weight: md_weight must be a number "
     ">= 0"),
    ("mmul", {**GOOD, "unlearn.learning_rate": float("nan")},
     r"unlearn.learning_rate = nan is not a finite number"),
    ("mmul", {"method.npo.beta": 0.1},
     r"method.npo.beta is not an unlearning setting of 'mmul'"),
    ("mmul", {"data.name": "reviews"}, r"unlearn.\* and method.mmul.\*"),
    ("mmul", [1, 2], r"method 'mmul': a setting must map config keys"),
    ("mmull", GOOD, r"'mmull', which is not a registered method"),
])
def test_a_hand_edited_tuned_json_is_one_clear_error(tmp_path, name,
                                                     setting, message):
  path = tmp_path / "tuned.json"
  path.write_text(json.dumps({"settings": {"finetune": {}, name: setting}}))
  for read in (tune.read_settings, compare.grid):
    with pytest.raises(errors.ConfigError, match=message) as e:
      read(str(path))
    assert str(e.value).startswith(str(path))
    assert "\n" not in str(e.value)


def test_settings_that_are_not_a_mapping(tmp_path):
  path = tmp_path / "tuned.json"
  path.write_text(json.dumps({"settings": [1]}))
  with pytest.raises(errors.ConfigError, match="must map method names"):
    tune.read_settings(str(path))


def test_compare_methods_refuses_a_bad_tuned_json_in_one_line(tmp_path):
  path = tmp_path / "tuned.json"
  path.write_text(json.dumps({"settings": {"mmul": {
      **GOOD, "unlearn.num_steps": 2.7}}}))
  r = script_checks.subprocess.run(
      script_checks.script("compare_methods", "tiny",
                           f"--workdir={tmp_path / 'w'}",
                           f"--settings={path}"),
      env=script_checks.env(), cwd=script_checks.ROOT, capture_output=True,
      text=True, timeout=300)
  script_checks.assert_one_line(r, str(path), "'mmul'", "unlearn.num_steps")
  assert not os.path.exists(tmp_path / "w" / "original")


# --- methods the task refuses ----------------------------------------------


def _reviews(data_dir, methods):
  import reviews  # configs/reviews.py
  c = reviews.get_config()
  c.data.data_dir = data_dir
  c.tune.methods = methods
  return c


def test_mmul_on_one_modality_is_refused_before_any_model(tmp_path,
                                                          monkeypatch):
  def no_training(*args, **kwargs):
    raise AssertionError("a model trained before the refusal")

  monkeypatch.setattr(phases, "train_model", no_training)
  workdir = tmp_path / "w"
  for methods in (("mmul",), ("finetune", "mmul_plus")):
    c = _reviews(str(tmp_path / "data"), methods)
    with pytest.raises(errors.ConfigError,
                       match=r"tune.methods names 'mmul(_plus)?', but "
                       "data.name = 'reviews' refuses it: MMUL needs two "
                       "modalities.*; leave 'mmul(_plus)?' out of "
                       "tune.methods"):
      tune.tune(c, str(workdir))
  assert not os.path.exists(workdir / "tune")
  assert not os.path.exists(tmp_path / "data")  # no dataset prepared


def test_every_method_by_default_leaves_out_those_the_task_refuses(
    tmp_path, capsys):
  names = tune.method_names(_reviews(str(tmp_path), ()))
  assert "mmul" not in names and "mmul_plus" not in names
  assert "finetune" in names and "retrain" not in names
  assert ("not tuned, refused here: mmul (data.name = 'reviews' refuses "
          "it: MMUL needs two") in capsys.readouterr().out


def test_the_configs_own_method_is_not_checked(tmp_path):
  c = _reviews(str(tmp_path), ("finetune",))
  c.method.name = "mmul"  # never run by the tuner
  assert tune.method_names(c) == ["finetune"]
  c.tune.methods = ("retrain",)
  with pytest.raises(errors.ConfigError, match="names 'retrain', but it "
                     "has nothing to tune"):
    tune.method_names(c)


def test_scripts_tune_refuses_mmul_on_reviews_in_one_line(tmp_path):
  workdir = tmp_path / "w"
  r = script_checks.subprocess.run(
      script_checks.script("tune", "reviews", f"--workdir={workdir}",
                           f"--config.data.data_dir={tmp_path / 'data'}",
                           "--config.tune.methods=('mmul',)"),
      env=script_checks.env(), cwd=script_checks.ROOT, capture_output=True,
      text=True, timeout=300)
  script_checks.assert_one_line(r, "tune.methods names 'mmul'",
                                "MMUL needs two modalities",
                                "leave 'mmul' out")
  assert not os.path.exists(workdir / "tune" / "original")


# --- the advised rerun after every trial diverged --------------------------


def _tiny(tiny_config, data_dir):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.tune.update(methods=("finetune",), num_trials=2, batch_size=2,
                startup_trials=2, validation_fraction=0.2, num_steps=(2,),
                df_batch_sizes=(4,), learning_rates=(1e30, 1e31))
  return c


@pytest.fixture
def no_compute(monkeypatch):
  """The tuner's loop without training or evaluating: a trial diverges
  when its learning rate is above 1, and its gap grows with the rate."""
  import numpy as np
  from mmul_jax.tuning import objective
  from mmul_jax.unlearn import run as run_lib
  from mmul_jax.unlearn import trials as trials_lib

  def unlearn_trials(exp, original, configs):
    del exp, original
    lrs = [c.unlearn.learning_rate for c in configs]
    return ({"lr": np.asarray(lrs)},
            {"finite": [lr < 1 for lr in lrs], "wall_seconds": 1.0})

  monkeypatch.setattr(phases, "train_model",
                      lambda exp, kind: ({"lr": np.zeros(())}, {}))
  monkeypatch.setattr(trials_lib, "unlearn_trials", unlearn_trials)
  monkeypatch.setattr(run_lib, "evaluate_model",
                      lambda exp, fn, name, params, cache: (
                          {}, {"lr": float(params["lr"])}))
  monkeypatch.setattr(objective, "trial_row", lambda metrics, task: {
      "val": 50.0, "df": 40.0 + 1e4 * metrics["lr"], "dr": 60.0,
      "auc": {}})


def test_the_advised_rerun_after_every_trial_diverged(
    tmp_path, tiny_config, data_dir, tiny_builder, no_compute):
  del tiny_builder, no_compute
  _advised_rerun(_tiny(tiny_config, data_dir), str(tmp_path))


@pytest.mark.slow
def test_the_advised_rerun_trains_and_unlearns(tmp_path, tiny_config,
                                               data_dir, tiny_builder):
  del tiny_builder  # the same, with real models: minutes
  _advised_rerun(_tiny(tiny_config, data_dir), str(tmp_path))


def test_a_corrupt_journal_stops_the_tuner_before_any_model(
    tmp_path, tiny_config, data_dir, tiny_builder, monkeypatch):
  del tiny_builder

  def no_training(*args, **kwargs):
    raise AssertionError("a model trained before the refusal")

  monkeypatch.setattr(phases, "train_model", no_training)
  path = tmp_path / "tune" / "studies" / "finetune.journal"
  path.parent.mkdir(parents=True)
  path.write_text('{"op_code": 0}\n{"op_co{"op_code": 1}\n')
  with pytest.raises(errors.DataError, match=rf"{path}, line 2 is not a "
                     "journal record"):
    tune.tune(_tiny(tiny_config, data_dir), str(tmp_path))


def _advised_rerun(c, workdir):
  with pytest.raises(errors.NonFiniteLossError,
                     match=r"every trial of 'finetune' diverged or failed "
                     r".*lower tune.learning_rates \(now \(1e\+30, 1e\+31\)\)"
                     r".*kept as finetune\.[0-9a-f]{10}\.journal"):
    tune.tune(c, workdir)
  # The advice: lower the rates and rerun the same command.
  c.tune.learning_rates = (1e-4, 1e-3)
  m = tune.tune(c, workdir)["methods"]["finetune"]
  assert m["counts"] == {"COMPLETE": 2}  # the failed trials are elsewhere
  for t in m["trials"]:
    assert 1e-4 <= t["setting"]["unlearn.learning_rate"] <= 1e-3
  studies = sorted(os.listdir(os.path.join(workdir, "tune", "studies")))
  assert len([s for s in studies if s.startswith("finetune.")]) == 2
  # Other step counts: a new study, not Optuna's "dynamic value space".
  c.tune.num_steps = (3,)
  m = tune.tune(c, workdir)["methods"]["finetune"]
  assert m["counts"] == {"COMPLETE": 2}
  assert m["chosen"]["setting"]["unlearn.num_steps"] == 3

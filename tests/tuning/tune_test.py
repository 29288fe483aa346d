"""scripts/tune.py's loop on the tiny config: every method gets its budget
of trials, batched; nothing reads the test split; a stopped study resumes
without rerunning finished trials; compare_methods and the benchmark grid
read the tuned settings."""

import json

import pytest

from mmul_jax import experiment
from mmul_jax.unlearn import compare
from mmul_jax.unlearn import trials as trials_lib
from mmul_jax.unlearn import tune


def _config(tiny_config, data_dir, **overrides):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.tune.methods = ("finetune", "neggrad")
  c.tune.num_trials = 2
  c.tune.batch_size = 2
  c.tune.startup_trials = 2
  c.tune.validation_fraction = 0.2
  c.tune.num_steps = (2, 3)
  c.tune.df_batch_sizes = (4, 64)  # 64 does not fit |Df| = 8: dropped
  c.update_from_flattened_dict(overrides)
  return c


class _NoTestData:
  """Stands in for the test split: any use of it fails the test."""

  def __getattr__(self, name):
    raise AssertionError(f"the tuner read the test split ({name})")

  def __len__(self):
    raise AssertionError("the tuner read the test split (len)")


@pytest.fixture
def no_test_split(monkeypatch):
  setup = experiment.setup

  def poisoned(config, workdir):
    exp = setup(config, workdir)
    exp.test, exp.ood = _NoTestData(), None
    return exp

  monkeypatch.setattr(experiment, "setup", poisoned)


def _spy_batches(monkeypatch, fail_on=None):
  """Records the trial batches unlearned; raises KeyboardInterrupt (a
  kill) after batch `fail_on` finishes unlearning."""
  seen = []
  unlearn = trials_lib.unlearn_trials

  def spy(exp, original, configs):
    out = unlearn(exp, original, configs)
    seen.append((configs[0].method.name, [c.unlearn.learning_rate
                                          for c in configs]))
    if fail_on is not None and len(seen) == fail_on:
      raise KeyboardInterrupt
    return out

  monkeypatch.setattr(trials_lib, "unlearn_trials", spy)
  return seen


def test_every_method_is_tuned_on_validation_only(tmp_path, tiny_config,
                                                  data_dir, tiny_builder,
                                                  no_test_split,
                                                  monkeypatch):
  del tiny_builder, no_test_split
  seen = _spy_batches(monkeypatch)
  config = _config(tiny_config, data_dir, **{"tune.methods": ("finetune",)})
  record = tune.tune(config, str(tmp_path))
  assert [name for name, _ in seen] == ["finetune"]
  for name in ("finetune",):
    m = record["methods"][name]
    assert len(m["trials"]) == 2
    assert sum(m["counts"].values()) == 2
    chosen = m["chosen"]
    assert chosen in m["pareto"]
    assert chosen["setting"]["unlearn.df_batch_size"] == 4
    assert record["settings"][name] == chosen["setting"]
    gaps = [t["values"][0] for t in m["trials"] if t["values"]]
    assert chosen["gap"] == min(gaps)
  # The references were scored on the validation carve, not on test.
  refs = record["references"]
  assert set(refs["retrained"]) == {"val", "df", "dr", "auc"}
  saved = json.load(open(tmp_path / "tuned.json"))
  assert saved["settings"] == record["settings"]
  assert "| finetune |" in open(tmp_path / "tuning.md").read()
  assert record["methods"]["finetune"]["unlearn_seconds"] > 0
  # Done: tuning again runs nothing.
  seen.clear()
  tune.tune(config, str(tmp_path))
  assert not seen
  # Tuning another method alone keeps the first one's record.
  config.tune.methods = ("neggrad",)
  tune.tune(config, str(tmp_path))
  assert [name for name, _ in seen] == ["neggrad"]
  saved = json.load(open(tmp_path / "tuned.json"))
  assert set(saved["settings"]) == {"finetune", "neggrad"}
  assert saved["settings"]["finetune"] == record["settings"]["finetune"]


def test_an_earlier_record_is_merged_or_kept_beside(tmp_path):
  path = str(tmp_path / "tuned.json")
  base = {"version": 1, "budget": {"num_trials": 2}, "references": {"r": 1},
          "validation_fraction": 0.1}
  earlier = {**base, "methods": {"a": {"x": 1}, "b": {"x": 2}},
             "settings": {"a": {"s": 1}, "b": {"s": 2}}}
  (tmp_path / "tuned.json").write_text(json.dumps(earlier))
  now = {**base, "methods": {"b": {"x": 3}}, "settings": {"b": {"s": 3}}}
  tune.keep_earlier(path, now)
  assert now["settings"] == {"a": {"s": 1}, "b": {"s": 3}}
  other = {**base, "budget": {"num_trials": 8}, "methods": {},
           "settings": {}}
  tune.keep_earlier(path, other)
  assert other["settings"] == {}
  kept = json.load(open(tmp_path / "tuned.previous.json"))
  assert kept == earlier


@pytest.mark.slow
def test_a_stopped_study_resumes_without_rerunning_finished_trials(
    tmp_path, tiny_config, data_dir, tiny_builder, monkeypatch):
  del tiny_builder
  config = _config(tiny_config, data_dir, **{"tune.methods": ("finetune",),
                                                "tune.num_trials": 4})
  straight = tune.tune(config, str(tmp_path / "straight"))
  seen = _spy_batches(monkeypatch, fail_on=2)
  with pytest.raises(KeyboardInterrupt):
    tune.tune(config, str(tmp_path / "killed"))
  first = list(seen)
  seen.clear()
  resumed = tune.tune(config, str(tmp_path / "killed"))
  # Only the interrupted batch ran again (from its finished checkpoint).
  assert seen == first[1:]
  trial_list = lambda r: [(t["trial"], t["setting"], t["state"])
                          for t in r["methods"]["finetune"]["trials"]]
  assert trial_list(resumed) == trial_list(straight)
  assert resumed["settings"] == straight["settings"]


def test_compare_and_the_grid_read_tuned_settings(tmp_path, tiny_config,
                                                  data_dir):
  path = tmp_path / "tuned.json"
  setting = {"unlearn.learning_rate": 2e-4, "unlearn.num_steps": 2,
             "method.mmul.md_weight": 3.0}
  path.write_text(json.dumps({"settings": {"mmul": setting}}))
  grid = compare.grid(str(path))
  assert grid["mmul"] == [setting]
  assert grid["finetune"] == compare.grid()["finetune"]
  assert tune.read_settings(str(path)) == {"mmul": setting}
  (tmp_path / "bad.json").write_text(json.dumps({"settings": {"nope": {}}}))
  with pytest.raises(Exception, match="not a registered method"):
    tune.read_settings(str(tmp_path / "bad.json"))
  with pytest.raises(Exception, match="rerun scripts/tune.py"):
    tune.read_settings(str(tmp_path / "missing.json"))
  del tiny_config, data_dir


@pytest.mark.parametrize("key,value,message", [
    ("tune.validation_fraction", 0.0, "never selects on test data"),
    ("tune.learning_rates", (1e-2, 1e-3), "low < high"),
    ("tune.num_steps", (50, 50), "distinct positive"),
    ("tune.methods", ("nope",), "unknown"),
    ("data.validation_fraction", 0.7, r"\[0, 0.5\)"),
])
def test_bad_tuning_config_is_one_clear_error(tiny_config, key, value,
                                              message):
  from mmul_jax import config_schema
  c = tiny_config.copy_and_resolve_references()
  c.update_from_flattened_dict({key: value})
  with pytest.raises(config_schema.ConfigError, match=message):
    config_schema.validate(c)


def test_tuned_settings_of_language_model_methods_are_read(tmp_path):
  path = tmp_path / "tuned.json"
  settings = {"idkdpo": {"unlearn.learning_rate": 8.7e-4,
                         "method.idkdpo.beta": 0.123},
              "rmu": {"method.rmu.steering": 2.4}}
  path.write_text(json.dumps({"settings": settings}))
  assert tune.read_settings(str(path)) == settings
  path.write_text(json.dumps({"settings": {"rmu": {
      "method.rmu.steering": -1.0}}}))
  with pytest.raises(Exception, match="rmu.*steering"):
    tune.read_settings(str(path))

"""B tuning trials under vmap equal the same settings unlearned one by one,
and the batched step compiles once."""

import pytest

from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.training import vmapped
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import trials
import tree_checks  # tests/tree_checks.py


@pytest.fixture(scope="module")
def setup(tiny_builder, data_dir, tiny_config, tmp_path_factory):
  del tiny_builder
  workdir = tmp_path_factory.mktemp("trials")

  def config(**overrides):
    c = tiny_config.copy_and_resolve_references()
    c.data.data_dir = data_dir
    c.unlearn.num_steps = 3
    c.update_from_flattened_dict(overrides)
    return c

  make = lambda c: experiment.setup(c, str(workdir))
  original, _ = phases.train_model(make(config()), "original")
  return config, make, original


_close = tree_checks.assert_close


def _count_compiles(monkeypatch):
  """The batched steps `unlearn_trials` builds, to ask their caches."""
  built = []
  make_step = vmapped.make_step

  def spy(*args, **kwargs):
    built.append(make_step(*args, **kwargs))
    return built[-1]

  monkeypatch.setattr(vmapped, "make_step", spy)
  return built


SETTINGS = {
    "mmul": [{"unlearn.learning_rate": 1e-3},
             {"unlearn.learning_rate": 3e-4, "method.mmul.md_weight": 5.0,
              "method.mmul.mkr_weight": 0.2, "method.mmul.ukr_weight": 30.0}],
    "salun": [{"unlearn.learning_rate": 1e-3, "method.salun.threshold": 0.2},
              {"unlearn.learning_rate": 5e-4, "method.salun.threshold": 0.9}],
    "neggrad_plus": [
        {"unlearn.learning_rate": 1e-3, "method.neggrad_plus.retain_weight":
         0.1},
        {"unlearn.learning_rate": 1e-4, "method.neggrad_plus.retain_weight":
         0.9}],
}


@pytest.mark.parametrize("method", [
    "mmul", pytest.param("salun", marks=pytest.mark.slow),
    pytest.param("neggrad_plus", marks=pytest.mark.slow)])
def test_batched_trials_equal_trials_run_one_by_one(setup, monkeypatch,
                                                    method):
  config, make, original = setup
  configs = [config(**{"method.name": method, **s})
             for s in SETTINGS[method]]
  built = _count_compiles(monkeypatch)
  params, info = trials.unlearn_trials(make(configs[0]), original, configs)
  assert [s._cache_size() for s in built] == [1]
  assert len(info["history"][-1]["loss"]) == len(configs)
  monkeypatch.undo()
  for k, c in enumerate(configs):
    alone, _ = phases.unlearn_model(make(c), original)
    _close(vmapped.unstack(params, k), alone)
  # The finished batch is reloaded, not run again.
  built = _count_compiles(monkeypatch)
  again, _ = trials.unlearn_trials(make(configs[0]), original, configs)
  assert not built
  _close(again, params)


def test_trials_that_change_the_step_are_refused(setup):
  config, make, original = setup
  for other in ({"unlearn.num_steps": 5}, {"method.npo.beta": 0.5}):
    name = "npo" if "method.npo.beta" in other else "mmul"
    configs = [config(**{"method.name": name}),
               config(**{"method.name": name, **other})]
    with pytest.raises(errors.ConfigError, match="differs from trial 0"):
      trials.unlearn_trials(make(configs[0]), original, configs)


def test_trials_get_their_own_directory(setup):
  config, make, _ = setup
  a = [config(**{"unlearn.learning_rate": lr}) for lr in (1e-3, 1e-4)]
  b = [config(**{"unlearn.learning_rate": lr}) for lr in (1e-3, 2e-4)]
  exp = make(a[0])
  assert trials.trials_dir(exp, a) != trials.trials_dir(exp, b)
  assert trials.trials_dir(exp, a) == trials.trials_dir(exp, list(a))

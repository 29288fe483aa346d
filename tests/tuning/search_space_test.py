"""Every method's search space is well formed, Optuna draws inside it, and
batches of trials split by structure only."""

import optuna
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import methods
from mmul_jax import tuning


@pytest.mark.parametrize("name", sorted(methods.METHODS))
def test_every_methods_space_is_settable_and_validates(name):
  sp = tuning.space(name)
  if name == "retrain":
    assert sp == {}
    return
  assert set(tuning.SHARED) <= set(sp)
  m = methods.get(name)
  assert {f"method.{name}.{h}" for h in m.ranges} <= set(sp)
  # Every corner of every range is a valid config.
  for key, p in sp.items():
    for value in (p.choices if p.scale == "choice" else (p.low, p.high)):
      c = config_schema.default_config_for(name)
      c.update_from_flattened_dict({key: value})
      config_schema.validate(c)


def test_optuna_draws_inside_the_space():
  sp = tuning.space("mmul")
  study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
  for _ in range(20):
    trial = study.ask()
    setting = tuning.suggest(trial, sp)
    assert set(setting) == set(sp)
    assert all(sp[k].contains(v) for k, v in setting.items())
    study.tell(trial, 0.0)
  # The same space as fixed distributions (what `Study.ask` takes).
  dists = tuning.to_optuna(sp)
  assert dists["unlearn.learning_rate"].log
  assert dists["unlearn.num_steps"].choices == (50, 100, 200)
  trial = study.ask(dists)
  assert sp["method.mmul.md_weight"].contains(
      trial.params["method.mmul.md_weight"])


def test_batches_split_by_structural_choices_only():
  sp = {"lr": tuning.Param(1e-4, 1e-2, "log"),
        "steps": tuning.Param(scale="choice", choices=(50, 100))}
  settings = [{"lr": 1e-3, "steps": 50}, {"lr": 2e-3, "steps": 100},
              {"lr": 3e-3, "steps": 50}, {"lr": 4e-3, "steps": 50},
              {"lr": 5e-3, "steps": 100}]
  assert tuning.batches(settings, sp, size=2) == [[0, 2], [3], [1, 4]]
  assert tuning.batches(settings, sp, size=8) == [[0, 2, 3], [1, 4]]
  assert tuning.structure(settings[0], sp) == (("steps", 50),)
  with pytest.raises(ValueError):
    tuning.batches(settings, sp, size=0)


def test_bad_params_are_refused():
  with pytest.raises(ValueError, match="low > 0"):
    tuning.Param(0.0, 1.0, "log")
  with pytest.raises(ValueError, match="low < high"):
    tuning.Param(1.0, 1.0)
  with pytest.raises(ValueError, match="distinct"):
    tuning.Param(scale="choice", choices=(1, 1))
  with pytest.raises(errors.ConfigError, match="unknown method"):
    tuning.space("nope")


def test_only_what_lives_in_state_is_batched():
  mmul = tuning.space("mmul")
  assert mmul["method.mmul.md_weight"].batched  # a weighted_sum weight
  assert mmul["unlearn.learning_rate"].batched  # injected into the state
  assert not mmul["unlearn.num_steps"].batched
  npo = tuning.space("npo")
  # beta is a constant of NPO's loss function; retain_weight = 0 drops Dr.
  assert not npo["method.npo.beta"].batched
  assert not npo["method.npo.retain_weight"].batched
  a = {"unlearn.learning_rate": 1e-3, "unlearn.num_steps": 100,
       "unlearn.df_batch_size": 32, "method.npo.beta": 0.1,
       "method.npo.retain_weight": 0.0}
  b = dict(a, **{"unlearn.learning_rate": 2e-3})
  c = dict(a, **{"method.npo.beta": 0.2})
  assert tuning.batches([a, b, c], npo, size=4) == [[0, 1], [2]]
  for name, m in methods.METHODS.items():
    assert m.in_state <= set(m.ranges), name

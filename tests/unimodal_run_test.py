"""The embedded unimodal tasks end to end through `unlearn.run` on the tiny
model (slow), every general method on each (slow), and MMUL's refusal
before any compute."""

import os

import pytest

from mmul_jax import errors
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax.unlearn import run as run_lib

MULTIMODAL = ("mmul", "mmul_plus")
GENERAL = sorted(n for n in set(methods.METHODS) - set(MULTIMODAL)
                 if methods.get(n).runs_on("unimodal_classification"))
CLASSES = {"shapes_cifar": 32, "reviews": 2, "drug_relations": 5,
           "tone_commands": 12, "moving_shapes": 10}


def _config(tiny_config, data_dir, dataset, method):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = dataset
  c.method.name = method
  c.method.randlabel.target = "labels"
  c.method.salun.target = "labels"
  return c


def _check(results, dataset, method):
  assert set(results.models) == {"original", "retrained", method}
  assert results.task == "unimodal_classification"
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/accuracy"] <= 100
    assert 0 <= m.metrics["auc/p_true/mean"] <= 1
    assert m.metrics["mubench/df_chance"] == pytest.approx(
        1 / CLASSES[dataset])
  d = results.deletion
  assert d.num_forget_examples == d.num_forget_units  # one example a unit
  assert "test acc" in tasks.for_results(results).table(results)


# All slow: the default suite runs the unimodal kind end to end in
# tests/signal_test.py (reviews) and on the fake CIFAR-100, IMDB,
# DDI-2013, Speech Commands and UCF101 downloads
# (tests/real_data_run_test.py).
@pytest.mark.parametrize("dataset,method", [
    pytest.param("shapes_cifar", "salun", marks=pytest.mark.slow),
    pytest.param("reviews", "npo", marks=pytest.mark.slow),
    pytest.param("drug_relations", "scrub", marks=pytest.mark.slow),
    pytest.param("tone_commands", "bad_teaching", marks=pytest.mark.slow),
    pytest.param("moving_shapes", "neggrad", marks=pytest.mark.slow)])
def test_embedded_unimodal_tasks_run(tmp_path, tiny_config, data_dir,
                                     dataset, method):
  c = _config(tiny_config, data_dir, dataset, method)
  _check(run_lib.run(c, str(tmp_path)), dataset, method)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(CLASSES))
def test_every_general_method_runs_on_every_unimodal_task(
    tmp_path, tiny_config, data_dir, dataset):
  for method in GENERAL:
    c = _config(tiny_config, data_dir, dataset, method)
    # One workdir: the original and retrained models are trained once.
    results = run_lib.run(c, str(tmp_path))
    if method != "retrain":
      _check(results, dataset, method)


@pytest.mark.parametrize("method", MULTIMODAL)
def test_mmul_is_refused_before_any_compute(tmp_path, tiny_config, data_dir,
                                            method):
  c = _config(tiny_config, data_dir, "reviews", method)
  with pytest.raises(errors.ConfigError, match="needs two modalities"):
    run_lib.run(c, str(tmp_path))
  assert not os.path.exists(tmp_path / "original")

"""Classification tasks end to end: the embedded NLVR2-style and VE-style
tasks and the fake NLVR2 download through `unlearn.run` on the tiny model
(the slow suite; the default suite's runs are in tests/signal_test.py and
tests/real_data_run_test.py)."""

import os

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import tasks
from mmul_jax.unlearn import benchmark
from mmul_jax.unlearn import compare
from mmul_jax.unlearn import leaderboard
from mmul_jax.unlearn import run as run_lib

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "fixtures")


def _config(tiny_config, data_dir, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.method.randlabel.target = "labels"
  c.update_from_flattened_dict(changes)
  return c


@pytest.mark.parametrize("dataset,method,classes", [
    # Both slow: the default suite runs shapes_ve end to end in
    # tests/signal_test.py and the fake NLVR2 and SNLI-VE downloads in
    # tests/real_data_run_test.py.
    pytest.param("shapes_ve", "mmul", 3, marks=pytest.mark.slow),
    pytest.param("shapes_nlvr2", "randlabel", 2, marks=pytest.mark.slow)])
def test_embedded_tasks_unlearn_and_evaluate(tmp_path, tiny_config, data_dir,
                                             dataset, method, classes):
  c = _config(tiny_config, data_dir, **{"data.name": dataset,
                                        "method.name": method})
  results = run_lib.run(c, str(tmp_path))
  assert set(results.models) == {"original", "retrained", method}
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/accuracy"] <= 100
    assert 0 <= m.metrics["auc/p_true/mean"] <= 1
    assert m.metrics["mubench/df_chance"] == pytest.approx(1 / classes)
  assert set(results.models[method].retrain_gap) >= {
      "test/accuracy", "df/accuracy", "auc/p_true/mean", "mubench/zrf"}
  assert "test acc" in tasks.for_results(results).table(results)
  if method == "mmul":
    _check_grid_tools(c, results, tmp_path)
  # 4 statements per unit in the embedded tasks.
  d = results.deletion
  assert d.num_forget_examples == 4 * d.num_forget_units


@pytest.mark.slow
def test_fake_nlvr2_download_runs_end_to_end(tmp_path, tiny_config):
  c = _config(tiny_config, str(tmp_path / "tfds"), **{
      "data.name": "nlvr2", "data.manual_dir": f"{FIXTURES}/nlvr2",
      "method.name": "neggrad", "deletion.count": 3,
      "unlearn.df_batch_size": 2, "unlearn.dr_batch_size": 4,
      "train.batch_size": 4, "eval.auc_num_samples": 1})
  results = run_lib.run(c, str(tmp_path / "run"))
  assert results.deletion.num_forget_units == 3
  assert np.isfinite(results.models["neggrad"].metrics["test/accuracy"])


def _check_grid_tools(config, results, tmp_path):
  """The benchmark's records and leaderboard and the comparison's table
  read a classification run's accuracy columns."""
  c = config.copy_and_resolve_references()
  c.benchmark.methods = ("mmul",)
  records = benchmark.run(c, str(tmp_path / "grid"),
                          run_cell=lambda *_: results)
  text = leaderboard.write_report(records, str(tmp_path / "grid"))[
      "markdown"]
  head = next(ln for ln in text.splitlines() if ln.startswith("| model"))
  assert "| test acc | Df acc | Dr acc | AUC p(y) |" in head
  assert "R@1" not in head and "AUC match" not in head
  (group,) = leaderboard.aggregate(records).values()
  mmul = group["mmul"]
  assert mmul["df/accuracy"][0] == results.models["mmul"].metrics[
      "df/accuracy"]
  table = compare.select(
      [compare._row("mmul", {}, results)],
      {k: compare._row(k, {}, results) for k in ("original", "retrained")},
      "retrain_gap")
  assert "| test accuracy |" in compare.markdown_table(table)
  assert table["selected"]["mmul"]["dr"] == pytest.approx(
      results.models["mmul"].metrics["dr/accuracy"])


def test_class_skewed_deletion_needs_one_class_per_image(tiny_config):
  c = tiny_config.copy_and_resolve_references()
  c.data.name = "shapes_captions"
  c.deletion.strategy = "class_skewed"
  config_schema.validate(c)
  c.data.name = "shapes_ve"
  with pytest.raises(config_schema.ConfigError, match="class per image"):
    config_schema.validate(c)

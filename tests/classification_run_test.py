"""Classification tasks end to end: the embedded NLVR2-style and VE-style
tasks and the fake NLVR2 download through `unlearn.run` on the tiny model."""

import os

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax.evaluation import report
from mmul_jax.unlearn import benchmark
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
    ("shapes_ve", "mmul", 3), ("shapes_nlvr2", "randlabel", 2)])
def test_embedded_tasks_unlearn_and_evaluate(tmp_path, tiny_config, data_dir,
                                             dataset, method, classes):
  c = _config(tiny_config, data_dir, **{"data.name": dataset,
                                        "method.name": method})
  results = run_lib.run(c, str(tmp_path))
  assert set(results["models"]) == {"original", "retrained", method}
  for m in results["models"].values():
    for split in ("test", "df", "dr"):
      assert 0 <= m[split]["accuracy"] <= 100
    assert 0 <= m["df_vs_dr_auc"]["mean"] <= 1
    assert m["mubench"]["df_chance"] == pytest.approx(1 / classes)
  s = results["summary"]
  assert set(s["metrics"][method]) >= {"test_acc", "df_acc", "auc", "zrf"}
  assert "test acc" in report.table(results)
  # 4 statements per unit in the embedded tasks.
  assert results["deletion"]["num_forget_pairs"] == 4 * results[
      "deletion"]["num_forget_images"]


@pytest.mark.slow
def test_fake_nlvr2_download_runs_end_to_end(tmp_path, tiny_config):
  c = _config(tiny_config, str(tmp_path / "tfds"), **{
      "data.name": "nlvr2", "data.manual_dir": f"{FIXTURES}/nlvr2",
      "method.name": "neggrad", "deletion.count": 3,
      "unlearn.df_batch_size": 2, "unlearn.dr_batch_size": 4,
      "eval.auc_num_samples": 1})
  results = run_lib.run(c, str(tmp_path / "run"))
  assert results["deletion"]["num_forget_images"] == 3
  assert np.isfinite(results["models"]["neggrad"]["test"]["accuracy"])


def test_grid_tools_refuse_classification_datasets(tiny_config):
  c = tiny_config.copy_and_resolve_references()
  c.data.name = "shapes_ve"
  with pytest.raises(config_schema.ConfigError, match="scripts/benchmark"):
    benchmark.run(c, "/nonexistent")
  c.data.name = "shapes_captions"
  c.deletion.strategy = "class_skewed"
  config_schema.validate(c)
  c.data.name = "shapes_ve"
  with pytest.raises(config_schema.ConfigError, match="class per image"):
    config_schema.validate(c)

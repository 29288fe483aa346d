"""The benchmark grid: records per cell, resume without recomputation, a
torn last record, the leaderboard and plots."""

import json
import os

import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.unlearn import benchmark
from mmul_jax.unlearn import leaderboard


def _config():
  c = config_schema.default_config()
  c.benchmark.methods = ("mmul", "finetune")
  c.benchmark.ratios = (2.0, 5.0)
  c.benchmark.seeds = (0, 1)
  c.benchmark.settings = ("finetune: unlearn.learning_rate=1e-3",)
  return c


def _fake_results(config, workdir):
  """A results.json shaped like `unlearn.run.run`'s, from the cell."""
  del workdir
  m, r, s = config.method.name, config.deletion.ratio, config.deletion.seed
  lr = config.unlearn.learning_rate
  base = {"test_r1": 0.3, "df_r1": 0.9 - r / 100, "dr_r1": 0.4,
          "auc": 0.55 + s / 100, "auc_match": 0.55, "knowledge_gap": 0.5,
          "zrf": 0.8, "mia_df_non_member": 0.4, "mia_df_auc": 0.6}
  metrics = {"original": base,
             "retrained": {**base, "df_r1": 0.6, "auc": 0.85},
             m: {**base, "df_r1": 0.7 + lr, "auc": 0.7 if m == "mmul" else
                 0.6}}
  return {
      "deletion": {"ratio": r, "seed": s},
      "models": {"retrained": {"wall_seconds": 90.0}},
      "summary": {
          "metrics": metrics,
          "overall": {k: 0.9 for k in metrics},
          "retrain_gap": {m: {"mean": abs(metrics[m]["auc"] - 0.85)}},
          "df_vs_dr_auc_progress": 0.5,
          "seconds": {m: {"unlearn": 10.0, "evaluate": 2.0,
                          "with_evaluation": 12.0}}}}


class Killed(Exception):
  pass


def test_grid_resumes_without_recomputing_and_gives_the_same_records(
    tmp_path):
  c = _config()
  straight = benchmark.run(c, str(tmp_path / "a"), run_cell=_fake_results)
  assert len(straight) == 8
  assert {r["method"] for r in straight} == {"mmul", "finetune"}
  # finetune got its own learning rate from benchmark.settings.
  ft = next(r for r in straight if r["method"] == "finetune")
  assert ft["metrics"]["finetune"]["df_r1"] == pytest.approx(0.701)

  calls = []
  counting = _counting(calls)

  def dies_after_three(config, workdir):
    if len(calls) == 3:
      raise Killed
    return counting(config, workdir)

  with pytest.raises(Killed):
    benchmark.run(c, str(tmp_path / "b"), run_cell=dies_after_three)
  first = list(calls)
  resumed = benchmark.run(c, str(tmp_path / "b"), run_cell=_counting(calls))
  assert len(calls) == 8 and len(set(calls)) == 8  # no cell ran twice
  assert calls[:3] == first
  assert resumed == straight


def _counting(calls):
  def run_cell(config, workdir):
    calls.append(benchmark.cell_key({
        "method": config.method.name, "width": config.model.vision_width,
        "strategy": config.deletion.strategy,
        "ratio": config.deletion.ratio, "seed": config.deletion.seed}))
    return _fake_results(config, workdir)
  return run_cell


def test_a_torn_last_record_reruns_its_cell(tmp_path):
  c = _config()
  records = benchmark.run(c, str(tmp_path), run_cell=_fake_results)
  path = tmp_path / benchmark.RECORDS_FILE
  text = path.read_text()
  path.write_text(text[:-40])  # killed while writing the last line
  assert len(benchmark.read_records(str(path))) == 7
  calls = []
  again = benchmark.run(c, str(tmp_path), run_cell=_counting(calls))
  assert len(calls) == 1 and again == records
  lines = path.read_text().splitlines()
  assert len(lines) == 8 and all(json.loads(ln) for ln in lines)


REC = '{"key": "%s", "method": "m", "metrics": {}}\n'


@pytest.mark.parametrize("middle,message", [
    (b"not json\n", "line 2 is not JSON"),
    (b'{"key": "x\xff\xfe"}\n', "line 2 is not UTF-8 text"),
    (b"[1, 2]\n", "line 2 is JSON but not a grid record"),
    (b'{"key": "c"}\n', "line 2 is JSON but not a grid record"),
])
def test_corrupt_record_in_the_middle_is_an_error(tmp_path, middle,
                                                  message):
  path = tmp_path / benchmark.RECORDS_FILE
  content = (REC % "a").encode() + middle + (REC % "b").encode()
  path.write_bytes(content)
  with pytest.raises(errors.DataError, match=message + ".*delete that line"):
    benchmark.read_records(str(path))
  assert path.read_bytes() == content  # nothing rewritten


def test_a_last_line_cut_inside_a_character_is_torn(tmp_path):
  path = tmp_path / benchmark.RECORDS_FILE
  path.write_bytes((REC % "a").encode() + (REC % "b\u00e9").encode()[:22])
  assert list(benchmark.read_records(str(path))) == ["a"]
  assert path.read_text() == REC % "a"


def test_bad_grid_is_refused_before_any_cell():
  c = _config()
  c.benchmark.methods = ("mmul", "forgetful")
  with pytest.raises(errors.ConfigError, match="forgetful"):
    benchmark.run(c, "/nonexistent", run_cell=_fake_results)
  c = _config()
  c.benchmark.settings = ("mmul unlearn.learning_rate=1",)
  with pytest.raises(errors.ConfigError, match="must start with a method"):
    benchmark.run(c, "/nonexistent", run_cell=_fake_results)
  c.benchmark.settings = ("mmul: unlearn.learnin_rate=1",)
  with pytest.raises(errors.ConfigError,
                     match="unknown config key 'unlearn.learnin_rate'; did "
                     "you mean 'unlearn.learning_rate'"):
    benchmark.run(c, "/nonexistent", run_cell=_fake_results)
  c = _config()
  c.benchmark.ratios = (float("nan"),)
  with pytest.raises(errors.ConfigError, match="not a finite number"):
    benchmark.run(c, "/nonexistent", run_cell=_fake_results)


def test_leaderboard_means_winners_and_plots(tmp_path):
  records = benchmark.run(_config(), str(tmp_path), run_cell=_fake_results)
  report = leaderboard.write_report(records, str(tmp_path))
  agg = leaderboard.aggregate(records)
  mmul = agg[(64, "uniform", 2.0)]["mmul"]
  assert mmul["auc"][0] == pytest.approx(0.7)
  # The retrained reference: one row per deletion seed, AUC 0.85 for both.
  assert agg[(64, "uniform", 2.0)]["retrained"]["auc"][2] == 2
  # Original AUC 0.55 and 0.56 over the two seeds.
  orig = agg[(64, "uniform", 5.0)]["original"]["auc"]
  assert orig[0] == pytest.approx(0.555) and orig[1] == pytest.approx(0.005)
  best = leaderboard.winners(agg[(64, "uniform", 2.0)])
  assert best["AUC"] == "mmul"  # 0.7 is closer to the retrained 0.85
  assert best["gap to retrain"] == "mmul"
  assert "| mmul |" in report["markdown"]
  assert "## 5% deleted, uniform Df, width 64" in report["markdown"]
  for path in report["plots"]:
    assert os.path.getsize(path) > 10_000
    with open(path, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_changed_settings_are_new_cells(tmp_path):
  c = _config()
  benchmark.run(c, str(tmp_path), run_cell=_fake_results)
  c.benchmark.settings = ("finetune: unlearn.learning_rate=3e-3",)
  calls = []
  benchmark.run(c, str(tmp_path), run_cell=_counting(calls))
  assert len(calls) == 4 and all(k.startswith("finetune") for k in calls)


def test_each_model_width_gets_its_own_model_directory(tmp_path):
  c = _config()
  c.benchmark.model_widths = (32, 64)
  seen = {}

  def run_cell(config, workdir):
    seen.setdefault(workdir, set()).add(config.model.vision_width)
    return _fake_results(config, workdir)

  benchmark.run(c, str(tmp_path), run_cell=run_cell)
  assert seen == {str(tmp_path / "w32"): {32}, str(tmp_path / "w64"): {64}}
  assert (tmp_path / benchmark.RECORDS_FILE).exists()  # one record file

"""The benchmark grid: records per cell, resume without recomputation, a
torn last record, the leaderboard and plots."""

import json
import os

import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.evaluation import results
from mmul_jax.evaluation import results_v1
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
  """A results record shaped like `unlearn.run.run`'s, from the cell."""
  del workdir
  m, r, s = config.method.name, config.deletion.ratio, config.deletion.seed
  lr = config.unlearn.learning_rate
  base = {"test/itc/r1_mean": 30.0, "df/itc/r1_mean": 90.0 - r,
          "dr/itc/r1_mean": 40.0, "auc/cosine/mean": 0.55 + s / 100,
          "auc/match/mean": 0.55, "mubench/knowledge_gap": 0.5,
          "mubench/zrf": 0.8, "mubench/mia/target_non_member_rate": 0.4,
          "mubench/mia/target_auc": 0.6}
  metrics = {"original": base,
             "retrained": {**base, "df/itc/r1_mean": 60.0,
                           "auc/cosine/mean": 0.85},
             m: {**base, "df/itc/r1_mean": 70.0 + 100 * lr,
                 "auc/cosine/mean": 0.7 if m == "mmul" else 0.6}}
  models = {k: results.ModelResults(
      v, overall=0.9,
      retrain_gap=None if k == "retrained" else {
          "mean": abs(v["auc/cosine/mean"] - 0.85)},
      wall_seconds=90.0 if k == "retrained" else 10.0, eval_seconds=2.0)
      for k, v in metrics.items()}
  return results.Results(
      task="retrieval", dataset="shapes", method=m,
      deletion=results.Deletion("image", r, s, 2, 4, 38, "ab" * 32),
      models=models, summary={"progress/auc/cosine": 0.5},
      devices=[], total_seconds=12.0, config={})


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
  assert ft["metrics"]["finetune"]["df/itc/r1_mean"] == pytest.approx(70.1)
  assert ft["seconds"]["with_evaluation"] == 12.0

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


REC = ('{"key": "%s", "method": "m", "metrics": {}, "schema_version": 2, '
       '"task": "retrieval"}\n')


@pytest.mark.parametrize("middle,message", [
    (b"not json\n", "line 2 is not JSON"),
    (b'{"key": "x\xff\xfe"}\n', "line 2 is not UTF-8 text"),
    (b"[1, 2]\n", "line 2 is JSON but not a grid record"),
    (b'{"key": "c", "schema_version": 2}\n',
     "line 2 is JSON but not a grid record"),
])
def test_corrupt_record_in_the_middle_is_an_error(tmp_path, middle,
                                                  message):
  path = tmp_path / benchmark.RECORDS_FILE
  content = (REC % "a").encode() + middle + (REC % "b").encode()
  path.write_bytes(content)
  with pytest.raises(errors.DataError, match=message + ".*delete that line"):
    benchmark.read_records(str(path))
  assert path.read_bytes() == content  # nothing rewritten


def test_a_schema_1_record_is_refused_and_the_converter_reads_it(tmp_path):
  path = tmp_path / benchmark.RECORDS_FILE
  old = {"key": "b", "method": "m", "ratio": 5.0, "seed": 0,
         "strategy": "uniform", "width": 64,
         "deletion": {"unit": "image", "ratio": 5.0, "seed": 0,
                      "num_forget_images": 2, "num_forget_pairs": 4,
                      "num_retain_images": 38, "sha256": "ab"},
         "metrics": {k: {"test_r1": 0.3, "auc": 0.5, "zrf": 0.8}
                     for k in ("original", "retrained", "m")},
         "overall": {"m": 0.9}, "retrain_gap": {"auc": 0.1, "mean": 0.1},
         "auc_progress": 0.5, "seconds": {"unlearn": 1.0}}
  content = (REC % "a") + json.dumps(old) + "\n"
  path.write_text(content)
  with pytest.raises(errors.DataError,
                     match="line 2 is a schema-1 results record.*"
                     "convert_results.py"):
    benchmark.read_records(str(path))
  assert path.read_text() == content  # nothing rewritten
  assert results_v1.convert_file(str(path)) == 1
  assert (tmp_path / (benchmark.RECORDS_FILE + ".v1")).read_text() == content
  new = benchmark.read_records(str(path))["b"]
  assert new["task"] == "retrieval"
  assert new["metrics"]["m"] == {"test/itc/r1_mean": 30.0,
                                 "auc/cosine/mean": 0.5, "mubench/zrf": 0.8}
  assert new["retrain_gap"] == {"auc/cosine/mean": 0.1, "mean": 0.1}
  assert new["deletion"]["num_forget_examples"] == 4
  assert results_v1.convert_file(str(path)) == 0  # already current


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
  group = ("retrieval", 64, "uniform", 2.0)
  mmul = agg[group]["mmul"]
  assert mmul["auc/cosine/mean"][0] == pytest.approx(0.7)
  # The retrained reference: one row per deletion seed, AUC 0.85 for both.
  assert agg[group]["retrained"]["auc/cosine/mean"][2] == 2
  # Original AUC 0.55 and 0.56 over the two seeds.
  orig = agg[("retrieval", 64, "uniform", 5.0)]["original"][
      "auc/cosine/mean"]
  assert orig[0] == pytest.approx(0.555) and orig[1] == pytest.approx(0.005)
  best = leaderboard.winners("retrieval", agg[group])
  assert best["AUC cosine"] == "mmul"  # 0.7 is closer to the retrained 0.85
  assert best["gap to retrain"] == "mmul"
  text = report["markdown"]
  assert "| mmul |" in text
  assert "## retrieval: 5% deleted, uniform Df, width 64" in text
  # The columns are the task's headline metrics, then the extra columns.
  head = next(ln for ln in text.splitlines() if ln.startswith("| model"))
  assert head.startswith("| model | test R@1 | Df R@1 | Dr R@1 | AUC cosine "
                         "| AUC match | knowledge gap | ZRF |")
  assert head.endswith("| overall (HM) | gap to retrain | unlearn s |")
  assert "| 70.1 ± 0.0 |" in text  # Df R@1 of finetune, in %
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

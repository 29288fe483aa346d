"""The benchmark grid: records per cell, resume without recomputation, a
torn last record, the leaderboard and plots."""

import json
import os

import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import tasks
from mmul_jax.data import datasets
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
      devices=[], total_seconds=12.0,
      config={"data": {"name": config.data.name}})


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


def _record(key, **changes):
  """A grid record as `benchmark.record_of` writes it."""
  r = {"schema_version": 2, "key": key, "method": "m", "width": 64,
       "strategy": "uniform", "ratio": 5.0, "seed": 0, "task": "retrieval",
       "dataset": "shapes_captions",
       "metrics": {k: {"test/itc/r1_mean": 30.0, "auc/cosine/mean": None}
                   for k in ("original", "retrained", "m")},
       "overall": {"original": 1.0, "retrained": 0.9, "m": 0.8},
       "retrain_gap": {"mean": 0.1}, "auc_progress": 0.5,
       "seconds": {"unlearn": 1.0, "evaluate": 1.0, "with_evaluation": 2.0,
                   "retrain": 9.0}}
  r.update(changes)
  return r


def _line(key, **changes):
  return json.dumps(_record(key, **changes), sort_keys=True) + "\n"


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
  content = _line("a").encode() + middle + _line("b").encode()
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
  content = _line("a") + json.dumps(old) + "\n"
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
  torn = json.dumps(_record("b\u00e9"), ensure_ascii=False).encode()
  torn = torn[:torn.index("\u00e9".encode()) + 1]
  path.write_bytes(_line("a").encode() + torn)
  assert list(benchmark.read_records(str(path))) == ["a"]
  assert path.read_text() == _line("a")


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
  group = ("retrieval", "shapes_captions", 64, "uniform", 2.0)
  mmul = agg[group]["mmul"]
  assert mmul["auc/cosine/mean"][0] == pytest.approx(0.7)
  # The retrained reference: one row per deletion seed, AUC 0.85 for both.
  assert agg[group]["retrained"]["auc/cosine/mean"][2] == 2
  # Original AUC 0.55 and 0.56 over the two seeds.
  orig = agg[("retrieval", "shapes_captions", 64, "uniform", 5.0)][
      "original"][
      "auc/cosine/mean"]
  assert orig[0] == pytest.approx(0.555) and orig[1] == pytest.approx(0.005)
  best = leaderboard.winners("retrieval", agg[group])
  assert best["AUC cosine"] == "mmul"  # 0.7 is closer to the retrained 0.85
  assert best["gap to retrain"] == "mmul"
  text = report["markdown"]
  assert "| mmul |" in text
  assert ("## shapes_captions (image+text, retrieval): 5% deleted, "
          "uniform Df, width 64") in text
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


def test_cells_run_at_tuned_settings_under_benchmark_settings(tmp_path):
  tuned = tmp_path / "tuned.json"
  tuned.write_text(json.dumps({"settings": {
      "mmul": {"unlearn.learning_rate": 2e-4, "method.mmul.md_weight": 7.0},
      "finetune": {"unlearn.learning_rate": 5e-5,
                   "unlearn.num_steps": 50}}}))
  c = _config()
  c.benchmark.tuned = str(tuned)
  seen = {}

  def run_cell(config, workdir):
    seen[config.method.name] = (config.unlearn.learning_rate,
                                config.unlearn.num_steps,
                                config.method.mmul.md_weight)
    return _fake_results(config, workdir)

  benchmark.run(c, str(tmp_path / "w"), run_cell=run_cell)
  # benchmark.settings' finetune learning rate wins over the tuned one.
  assert seen == {"mmul": (2e-4, 100, 7.0), "finetune": (1e-3, 50, 1.0)}
  c.benchmark.tuned = str(tmp_path / "missing.json")
  with pytest.raises(errors.ConfigError, match="tune.py"):
    benchmark.run(c, str(tmp_path / "w"), run_cell=run_cell)


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


def _fake_classification(config, workdir):
  """A classification results record whose scores depend on the method
  and the dataset (so ranks differ across datasets)."""
  del workdir
  m, d = config.method.name, config.data.name
  task = tasks.for_dataset(datasets.DATASETS[d])
  base = {h.name: 0.5 for h in task.headline}
  skill = {"finetune": 0.10, "randlabel": 0.02, "mmul": 0.05}[m]
  if d == "reviews" and m == "finetune":
    skill = 0.01  # finetune wins here only
  models = {k: results.ModelResults(
      base, overall=0.9 - skill,
      retrain_gap=None if k == "retrained" else {"mean": skill},
      wall_seconds=10.0, eval_seconds=1.0)
      for k in ("original", "retrained", m)}
  return results.Results(
      task=task.name, dataset=d, method=m,
      deletion=results.Deletion("unit", 5.0, 0, 5, 5, 95, "ab" * 32),
      models=models, summary={f"progress/{task.aucs[0]}": 0.5},
      devices=[], total_seconds=12.0, config={"data": {"name": d}})


def test_a_grid_over_tasks_ranks_methods_across_them(tmp_path):
  c = _config()
  c.benchmark.methods = ("mmul", "finetune", "randlabel")
  c.benchmark.ratios = (5.0,)
  c.benchmark.seeds = (0,)
  c.benchmark.datasets = ("shapes_nlvr2", "shapes_cifar", "reviews")
  c.benchmark.dataset_settings = ("reviews: train.num_steps=7",)
  seen = []

  def run_cell(config, workdir):
    seen.append((config.data.name, config.method.name, workdir,
                 config.train.num_steps, config.method.randlabel.target))
    return _fake_classification(config, workdir)

  records = benchmark.run(c, str(tmp_path), run_cell=run_cell)
  # MMUL has no cell on the unimodal tasks; every cell starts from its
  # dataset's recipe (training steps, wrong-label targets) in its own
  # model directory.
  assert [(d, m) for d, m, *_ in seen] == [
      ("shapes_nlvr2", "mmul"), ("shapes_nlvr2", "finetune"),
      ("shapes_nlvr2", "randlabel"), ("shapes_cifar", "finetune"),
      ("shapes_cifar", "randlabel"), ("reviews", "finetune"),
      ("reviews", "randlabel")]
  assert {(d, w) for d, _, w, *_ in seen} == {
      (d, str(tmp_path / d)) for d in c.benchmark.datasets}
  steps = {d: s for d, _, _, s, _ in seen}
  assert steps == {"shapes_nlvr2": 4000, "shapes_cifar": 3000, "reviews": 7}
  assert {t for *_, t in seen} == {"labels"}
  assert {r["dataset"] for r in records} == set(c.benchmark.datasets)
  text = leaderboard.write_report(records, str(tmp_path))["markdown"]
  assert "## shapes_cifar (image, unimodal_classification)" in text
  assert "## shapes_nlvr2 (image+image+text, classification)" in text
  ranks = leaderboard.ranks(leaderboard.aggregate(records))["gap"]
  assert ranks["randlabel"] == {"shapes_nlvr2": 1.0, "shapes_cifar": 1.0,
                                "reviews": 2.0, "average": pytest.approx(
                                    4 / 3)}
  assert ranks["mmul"] == {"shapes_nlvr2": 2.0, "average": 2.0}
  assert ranks["finetune"]["reviews"] == 1.0
  assert "## Across tasks" in text and "| randlabel |" in text
  # Resumed: nothing runs again.
  calls = []
  benchmark.run(c, str(tmp_path), run_cell=_counting(calls))
  assert calls == []


def test_the_real_source_names_the_real_datasets():
  c = _config()
  c.benchmark.datasets = ("shapes_cifar", "tone_commands", "shapes_nlvr2")
  c.data.source = "real"
  assert benchmark.grid_datasets(c) == ("cifar100", "speech_commands",
                                        "nlvr2")
  cell = next(x for x in benchmark.cells(c) if x["dataset"] == "cifar100")
  config = benchmark.cell_config(c, cell, {})
  assert config.data.name == "cifar100" and config.model.pretrained
  c.benchmark.dataset_settings = ("imdb: train.num_steps=1",)
  with pytest.raises(errors.ConfigError, match="must start with a dataset "
                     "name"):
    benchmark.run(c, "/nonexistent", run_cell=_fake_results)


def test_a_task_names_its_backbone_for_the_scalability_grid():
  """`dataset@backbone` cells: the backbone's recipe, one workdir and one
  leaderboard group per model size; unknown names refused in one line."""
  c = _config()
  c.benchmark.datasets = ("shapes_cifar@resnet-18", "shapes_cifar@resnet-50",
                          "reviews@bert-large-uncased", "tone_commands")
  c.data.source = "real"
  assert benchmark.grid_datasets(c) == (
      "cifar100@resnet-18", "cifar100@resnet-50",
      "imdb@bert-large-uncased", "speech_commands")
  config_schema.validate(c)
  by = {}
  for cell in benchmark.cells(c):
    by.setdefault(cell["dataset"], benchmark.cell_config(c, cell, {}))
  small, large = by["cifar100@resnet-18"], by["cifar100@resnet-50"]
  assert small.data.name == large.data.name == "cifar100"
  assert (small.model.arch, small.model.resnet_depths) == ("resnet",
                                                           (2, 2, 2, 2))
  assert large.model.resnet_block == "bottleneck"
  assert large.model.pretrained == "~/checkpoints/resnet-50"
  assert by["imdb@bert-large-uncased"].model.text_layers == 24
  assert by["speech_commands"].model.arch == "clip"  # its own recipe
  assert (benchmark.cell_workdir(c, {"dataset": "cifar100@resnet-50"}, "w")
          == os.path.join("w", "cifar100@resnet-50"))
  c.benchmark.datasets = ("shapes_cifar@resnet-101",)
  with pytest.raises(errors.ConfigError, match="unknown backbone "
                     "'resnet-101'"):
    config_schema.validate(c)
  import bench_mubench  # configs/: MU-Bench's scalability grid
  s = bench_mubench.get_config("scalability=true")
  config_schema.validate(s)
  assert "cifar100@resnet-50" in benchmark.grid_datasets(s)
  assert "mmul" not in {cell["method"] for cell in benchmark.cells(s)}


def _no_compute(config, workdir):
  raise AssertionError(f"a cell ran: {config.method.name} in {workdir}")


def test_a_grid_the_task_refuses_entirely_stops_before_any_cell(tmp_path):
  c = _config()
  c.data.name = "reviews"  # one modality: MMUL is refused
  c.benchmark.methods = ("mmul", "mmul_plus")
  path = tmp_path / benchmark.RECORDS_FILE
  path.write_text(_line("earlier"))
  with pytest.raises(errors.ConfigError,
                     match="no cell to run.*mmul on reviews: MMUL needs two "
                     "modalities.*mmul_plus on reviews"):
    benchmark.run(c, str(tmp_path), run_cell=_no_compute)
  assert path.read_text() == _line("earlier")
  c.benchmark.datasets = ("reviews", "shapes_cifar")
  with pytest.raises(errors.ConfigError, match="mmul on shapes_cifar"):
    benchmark.run(c, str(tmp_path), run_cell=_no_compute)
  assert path.read_text() == _line("earlier")


def test_the_base_configs_own_method_is_not_run_so_not_checked(tmp_path):
  c = _config()
  c.data.name = "reviews"
  c.method.name = "mmul"  # what the grid's cells replace
  c.benchmark.methods = ("mmul", "finetune")
  c.benchmark.ratios = (5.0,)
  c.benchmark.seeds = (0,)
  seen = []

  def run_cell(config, workdir):
    seen.append(config.method.name)
    return _fake_classification(config, workdir)

  benchmark.run(c, str(tmp_path), run_cell=run_cell)
  assert seen == ["finetune"]
  assert benchmark.skipped(c) == ["mmul on reviews"]


@pytest.mark.parametrize("key,value,message", [
    ("methods", ("mmul", "finetune", "mmul"), "benchmark.methods lists "
     "'mmul' twice"),
    ("seeds", (0, 1, 0), "benchmark.seeds lists 0 twice"),
    ("ratios", (2.0, 2), "benchmark.ratios lists 2"),
    ("datasets", ("shapes_cifar", "reviews", "shapes_cifar"),
     "benchmark.datasets lists 'shapes_cifar' twice"),
])
def test_a_cell_listed_twice_is_refused(key, value, message):
  c = _config()
  c.benchmark[key] = value
  with pytest.raises(errors.ConfigError, match=message):
    benchmark.run(c, "/nonexistent", run_cell=_no_compute)


def test_real_names_of_two_datasets_that_are_one_are_refused():
  c = _config()
  c.data.source = "real"
  c.benchmark.datasets = ("shapes_cifar", "cifar100")
  with pytest.raises(errors.ConfigError, match="cifar100.*twice"):
    benchmark.run(c, "/nonexistent", run_cell=_no_compute)


def test_every_cells_data_is_checked_before_the_first_cell(tmp_path):
  c = _config()
  c.benchmark.datasets = ("shapes_cifar", "cifar100")
  c.data.data_dir = str(tmp_path / "tfds")  # CIFAR-100 is not there
  c.data.manual_dir = str(tmp_path / "manual")
  with pytest.raises(errors.DataError, match="(?i)cifar"):
    benchmark.run(c, str(tmp_path / "w"), run_cell=_no_compute)
  assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("changes,message", [
    ({"metrics": {"original": {"test/itc/r1_mean": "30.0"},
                  "retrained": {}, "m": {}}},
     "metrics.original.test/itc/r1_mean is '30.0', not a finite number or "
     "null"),
    ({"overall": {"original": float("nan")}},
     "overall.original is nan, not a finite number or null"),
    ({"retrain_gap": {"mean": float("inf")}}, "retrain_gap.mean is inf"),
    ({"seconds": {"unlearn": True}}, "seconds.unlearn is True"),
    ({"metrics": {"original": {}, "retrained": {}}},
     "metrics has no 'm' model"),
    ({"width": "64"}, "width is '64', not an integer"),
    ({"ratio": None}, "ratio is None, not a finite number"),
    ({"task": "speech"}, "task 'speech' is not one of"),
])
def test_a_record_with_a_bad_value_is_refused_with_its_line(tmp_path,
                                                            changes,
                                                            message):
  path = tmp_path / benchmark.RECORDS_FILE
  content = _line("a") + _line("b", **changes) + _line("c")
  path.write_text(content)
  with pytest.raises(errors.DataError) as e:
    benchmark.read_records(str(path))
  text = str(e.value)
  assert f"{path}, line 2" in text and message in text, text
  assert "delete that line" in text
  assert path.read_text() == content  # nothing rewritten


def test_a_cell_recorded_twice_is_refused_with_both_lines(tmp_path):
  path = tmp_path / benchmark.RECORDS_FILE
  content = _line("a") + _line("b") + _line("c") + _line("b", seed=1)
  path.write_text(content)
  with pytest.raises(errors.DataError,
                     match="lines 2 and 4 are both the record of cell 'b'"):
    benchmark.read_records(str(path))
  assert path.read_text() == content


def test_a_record_under_another_cells_key_is_refused(tmp_path):
  c = _config()
  records = benchmark.run(c, str(tmp_path), run_cell=_fake_results)
  path = tmp_path / benchmark.RECORDS_FILE
  lines = path.read_text().splitlines()
  # The finetune record of line 2 under the mmul key of line 1: the
  # leaderboard would count finetune twice and mmul never.
  assert records[0]["method"] == "mmul"
  assert records[1]["method"] == "finetune"
  edited = json.loads(lines[1])
  edited["key"] = records[0]["key"]
  path.write_text("\n".join([json.dumps(edited)] + lines[2:]) + "\n")
  with pytest.raises(errors.DataError,
                     match="line 1 is filed under the key of cell "
                     r"mmul\|w64\|uniform\|r2\|seed0 but is the record of "
                     r"finetune\|w64\|uniform\|r2\|seed0"):
    benchmark.run(c, str(tmp_path), run_cell=_no_compute)


def test_non_finite_metrics_are_written_as_null_and_read_back(tmp_path):
  def run_cell(config, workdir):
    res = _fake_results(config, workdir)
    res.models["original"].metrics["mubench/zrf"] = float("nan")
    return res

  c = _config()
  c.benchmark.ratios, c.benchmark.seeds = (5.0,), (0,)
  records = benchmark.run(c, str(tmp_path), run_cell=run_cell)
  assert records[0]["metrics"]["original"]["mubench/zrf"] is None
  assert "NaN" not in (tmp_path / benchmark.RECORDS_FILE).read_text()
  assert benchmark.run(c, str(tmp_path), run_cell=_no_compute) == records
  text = leaderboard.write_report(records, str(tmp_path))["markdown"]
  assert "nan" not in text


def test_a_last_record_without_its_newline_is_ended_before_appending(
    tmp_path):
  path = tmp_path / benchmark.RECORDS_FILE
  path.write_text(_line("a") + _line("b").rstrip("\n"))
  assert list(benchmark.read_records(str(path))) == ["a", "b"]
  benchmark.append_record(str(path), _record("c"))
  assert list(benchmark.read_records(str(path))) == ["a", "b", "c"]


def test_old_records_without_a_gap_or_times_reach_the_leaderboard():
  r = _record("a", retrain_gap=None, overall={"m": 0.8},
              seconds={"unlearn": None})
  agg = leaderboard.aggregate([r])
  models = agg[("retrieval", "shapes_captions", 64, "uniform", 5.0)]
  assert models["m"]["overall"][0] == 0.8
  assert "gap" not in models["m"] and "seconds" not in models["retrained"]


def test_robustness_records_become_recovery_columns(tmp_path, monkeypatch):
  c = _config()
  c.benchmark.methods = ("mmul",)
  c.benchmark.ratios = (5.0,)
  c.benchmark.robustness = True
  attacked = []

  def fake_check(config, workdir):
    attacked.append(config.method.name)
    seed = config.deletion.seed
    return {"forgetting_recovery": {
        "int4": {"original": 0.2, "mmul": 0.5 + seed / 10},
        "relearn_forget_10": {"original": float("nan"), "mmul": 0.9}}}

  monkeypatch.setattr(benchmark.robustness_lib, "check", fake_check)
  records = benchmark.run(c, str(tmp_path), run_cell=_fake_results)
  assert attacked == ["mmul", "mmul"]
  assert all("|rob" in r["key"] for r in records)
  # NaN is written as null; the record reads back.
  assert records[0]["robustness"]["relearn_forget_10"]["original"] is None
  again = benchmark.run(c, str(tmp_path), run_cell=_fake_results)
  assert again == records and attacked == ["mmul", "mmul"]
  agg = leaderboard.aggregate(records)
  models = agg[("retrieval", "shapes_captions", 64, "uniform", 5.0)]
  assert models["mmul"]["R int4"][:2] == pytest.approx((0.55, 0.05))
  assert models["original"]["R int4"][0] == pytest.approx(0.2)
  assert "R relearn_forget_10" not in models["original"]
  text = leaderboard.markdown(agg)
  head = next(ln for ln in text.splitlines() if ln.startswith("| model"))
  assert head.endswith("| unlearn s | R int4 | R relearn_forget_10 |")
  # Without the option the same grid's cells are other cells.
  c.benchmark.robustness = False
  assert benchmark.record_key({"method": "mmul", "width": 64, "strategy":
                               "uniform", "ratio": 5.0, "seed": 0}, c) != (
                                   records[0]["key"])

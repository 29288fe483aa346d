"""The scripts end to end on the tiny config, and their bad-input errors."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, *args, timeout=600):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", script),
       "--config=" + os.path.join(ROOT, "configs", "tiny.py"), *args],
      capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_dir):
  return str(tmp_path_factory.mktemp("smoke")), data_dir


def test_train_then_unlearn(workdir):
  wd, data_dir = workdir
  common = (f"--workdir={wd}", f"--config.data.data_dir={data_dir}")
  r = _run("train.py", *common)
  assert r.returncode == 0, r.stderr[-3000:]
  assert "original model: 6 steps" in r.stdout
  r = _run("unlearn.py", *common)
  assert r.returncode == 0, r.stderr[-3000:]
  for row in ("original", "retrained", "mmul", "AUC cosine"):
    assert row in r.stdout
  results = json.load(open(os.path.join(wd, "results.json")))
  assert results["schema_version"] == 2
  assert set(results["models"]) == {"original", "retrained", "mmul"}
  for m in results["models"].values():
    assert 0 <= m["metrics"]["auc/cosine/mean"] <= 1
    assert {"test/itc/r1_mean", "df/itc/r1_mean", "dr/itc/r1_mean"} <= set(
        m["metrics"])
    assert m["wall_seconds"] > 0
  # The original model came from the cache train.py wrote.
  assert results["config"]["method"]["name"] == "mmul"


@pytest.mark.slow
def test_another_method_by_flag_and_the_comparison_script(workdir):
  wd, data_dir = workdir
  common = (f"--workdir={wd}", f"--config.data.data_dir={data_dir}")
  r = _run("unlearn.py", *common, "--config.method.name=scrub")
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(os.path.join(wd, "results.json")))
  assert set(results["models"]) == {"original", "retrained", "scrub"}
  r = _run("compare_methods.py", *common, "--methods=neggrad,retrain,fisher",
           "--shadow_models=3", "--rank_by=ulira")
  assert r.returncode == 0, r.stderr[-3000:]
  comparison = json.load(open(os.path.join(wd, "comparison.json")))
  assert set(comparison["selected"]) == {"retrain", "neggrad", "fisher"}
  # Audited with 3 shadow models per kind; retraining itself ranks first.
  assert comparison["shadow"]["seeds"] == [0, 1, 2]
  assert comparison["order"][0] == "retrain"
  assert comparison["selected"]["retrain"]["shadow"]["distance"] == 0.0
  assert "U-LiRA AUC (worst rep, K=3)" in r.stdout
  assert len(comparison["runs"]) == 7  # 3 settings each, retrain has 1
  assert comparison["selected"]["retrain"]["scores"]["retrain_gap"] == 0
  assert "| neggrad |" in r.stdout and "| retrained | reference |" in r.stdout


@pytest.mark.slow
def test_benchmark_script_writes_records_leaderboard_and_plots(workdir):
  wd, data_dir = workdir
  r = _run("benchmark.py", f"--workdir={wd}",
           f"--config.data.data_dir={data_dir}",
           "--config.benchmark.methods=('mmul','finetune')",
           "--config.benchmark.ratios=(10.0,)",
           "--config.benchmark.seeds=(0,)")
  assert r.returncode == 0, r.stderr[-3000:]
  lines = open(os.path.join(wd, "records.jsonl")).read().splitlines()
  assert [json.loads(ln)["method"] for ln in lines] == ["mmul", "finetune"]
  record = json.loads(lines[0])
  assert set(record["metrics"]) == {"original", "retrained", "mmul"}
  assert 0 <= record["metrics"]["mmul"]["mubench/knowledge_gap"] <= 1
  assert record["task"] == "retrieval" and record["schema_version"] == 2
  assert "| finetune |" in open(os.path.join(wd, "leaderboard.md")).read()
  assert os.path.exists(os.path.join(wd, "tradeoff.png"))
  # Run again: nothing left to do.
  r = _run("benchmark.py", f"--workdir={wd}",
           f"--config.data.data_dir={data_dir}",
           "--config.benchmark.methods=('mmul','finetune')",
           "--config.benchmark.ratios=(10.0,)",
           "--config.benchmark.seeds=(0,)")
  assert r.returncode == 0 and "2 done, 0 to run" in r.stdout


@pytest.mark.parametrize("args,message", [
    (("--config.train.lrr=1",), "unknown config key 'train.lrr'"),
    (("--config.method.name=forgetful",), "unknown method 'forgetful'"),
    (("--config.method.name=randlabel",
      "--config.method.randlabel.target=labels"), "needs labels"),
    (("--config.method.name=salun", "--config.method.salun.threshold=0"),
     "threshold"),
    (("--config.deletion.ratio=0",), r"in (0, 100)"),
    (("--config.deletion.ratio=150",), r"in (0, 100)"),
])
def test_bad_input_is_one_clear_line(workdir, args, message):
  wd, data_dir = workdir
  r = _run("unlearn.py", f"--workdir={wd}/bad",
           f"--config.data.data_dir={data_dir}", *args)
  assert r.returncode == 2
  lines = r.stderr.strip().splitlines()
  assert lines[-1].startswith("error: ") and message in lines[-1]
  assert "Traceback" not in r.stderr


def test_workdir_of_another_model_config_is_refused(workdir):
  wd, data_dir = workdir
  r = _run("unlearn.py", f"--workdir={wd}",
           f"--config.data.data_dir={data_dir}",
           "--config.model.vision_width=48")
  assert r.returncode == 2, r.stderr[-2000:]
  assert "another config" in r.stderr and "vision_width" in r.stderr
  assert "Traceback" not in r.stderr
  # Nothing was overwritten.
  results = json.load(open(os.path.join(wd, "results.json")))
  assert results["config"]["model"]["vision_width"] == 32


def _finished_run(workdir):
  """The module's workdir after a full run (made here if run alone)."""
  wd, data_dir = workdir
  if not os.path.exists(os.path.join(wd, "results.json")):
    r = _run("unlearn.py", f"--workdir={wd}",
             f"--config.data.data_dir={data_dir}")
    assert r.returncode == 0, r.stderr[-3000:]
  return wd, data_dir


def _truncated(path):
  with open(path, "r+b") as f:
    f.truncate(max(1, os.path.getsize(path) // 2))
  return path


def _first(root, pattern):
  import glob
  (path, *_) = sorted(glob.glob(os.path.join(root, pattern)))
  return path


def _overcount_manifest(wd):
  path = _first(wd, "deletion/*/*/seed0/ratio5.json")
  m = json.load(open(path))
  m["num_forget"] += 3
  open(path, "w").write(json.dumps(m))
  return path


# name -> (what to break in a copy of the finished workdir (returns the
# path that must be named), words the error line must hold besides it)
BROKEN_RUNS = {
    "truncated_train_info": (
        lambda wd, dd: _truncated(_first(wd, "original/train_info.json")),
        ("training record", "delete it and rerun")),
    "truncated_unlearn_info": (
        lambda wd, dd: _truncated(_first(wd, "unlearn/mmul/*/*/"
                                         "unlearn_info.json")),
        ("unlearning record", "delete it and rerun")),
    "truncated_eval_cache": (
        lambda wd, dd: _truncated(_first(wd, "original/eval_*.json")),
        ("cached evaluation", "delete it and rerun")),
    "manifest_counts_edited": (
        lambda wd, dd: _overcount_manifest(wd),
        ("says num_forget", "lists")),
    "truncated_prepared_records": (
        # The tiny config's own copy: the session's data dir may hold
        # other sizes of the dataset too.
        lambda wd, dd: os.path.dirname(_truncated(_first(
            dd, "shapes_captions/n80_t20_c2_s32_seed0/*/"
            "*train.array_record*"))),
        ("is truncated or corrupt", "delete that directory")),
}


@pytest.mark.parametrize("case", sorted(BROKEN_RUNS))
def test_broken_files_of_a_finished_run_are_one_line(workdir, tmp_path,
                                                     case):
  import shutil
  import script_checks as bad  # tests/ is on sys.path (conftest)
  wd, data_dir = _finished_run(workdir)
  copy, data_copy = str(tmp_path / "wd"), str(tmp_path / "tfds")
  shutil.copytree(wd, copy)
  if case == "truncated_prepared_records":
    shutil.copytree(data_dir, data_copy)  # found before the fingerprints
  else:  # the data directory is part of the checkpoints' fingerprint
    data_copy = data_dir
  break_it, needles = BROKEN_RUNS[case]
  named = break_it(copy, data_copy)
  before = bad.checksums(copy)
  r = _run("unlearn.py", f"--workdir={copy}",
           f"--config.data.data_dir={data_copy}")
  bad.assert_one_line(r, named, *needles)
  assert bad.checksums(copy) == before  # nothing rewritten or removed

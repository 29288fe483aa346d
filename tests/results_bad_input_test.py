"""The tools that read results, given bad input, end in one line on stderr
(exit 2) that names the file, array or methods, and change nothing: the
benchmark grid with no cell to run, rescore.py on a spoilt score file,
diff_results.py on a truncated results file. Each runs its script before
any compute (seconds)."""

import json
import os
import subprocess
import sys

import numpy as np

from script_checks import ROOT
from script_checks import assert_one_line
from script_checks import checksums
from script_checks import env


def _run(script, *args):
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", script), *args],
      capture_output=True, text=True, timeout=300, cwd=ROOT, env=env())


def test_a_grid_the_task_refuses_entirely_leaves_the_workdir_alone(
    tmp_path):
  workdir = tmp_path / "wd"
  workdir.mkdir()
  (workdir / "leaderboard.md").write_text("# Benchmark leaderboard\n| x |\n")
  (workdir / "leaderboard.json").write_text('{"groups": [1]}\n')
  record = {"schema_version": 2, "key": "k", "method": "finetune",
            "width": 64, "strategy": "uniform", "ratio": 5.0, "seed": 0,
            "task": "unimodal_classification", "dataset": "reviews",
            "metrics": {m: {"test/accuracy": 80.0}
                        for m in ("original", "retrained", "finetune")},
            "overall": {}, "retrain_gap": None, "seconds": {}}
  (workdir / "records.jsonl").write_text(json.dumps(record) + "\n")
  before = checksums(workdir)
  r = _run("benchmark.py",
           "--config=" + os.path.join(ROOT, "configs", "reviews.py"),
           f"--workdir={workdir}", "--config.benchmark.methods=('mmul',)")
  assert_one_line(r, "no cell to run", "mmul on reviews",
                  "MMUL needs two modalities")
  assert checksums(workdir) == before


def test_rescore_of_a_score_file_with_nan_is_one_line(tmp_path):
  from mmul_jax.evaluation import score_files
  rng = np.random.default_rng(0)
  scores = {m: {s: {"features": rng.normal(size=(3, 10 * n, 4)),
                    "logits": rng.normal(size=(3, 10 * n, 2)),
                    "p_true": rng.uniform(size=(3, 10 * n)),
                    "loss": rng.uniform(size=(3, 10 * n))}
                for s, n in (("df", 1), ("dr", 5), ("test", 1))}
            for m in ("original", "retrained", "salun")}
  scores["salun"]["dr"]["loss"][2, 7] = np.nan
  path = str(tmp_path / "scores.npz")
  score_files.save(path, scores, task="unimodal_classification")
  out = tmp_path / "audit.json"
  r = _run("rescore.py", f"--scores={path}", f"--out={out}")
  assert_one_line(r, path, "'salun/dr/loss'", "NaN")
  assert not out.exists()
  scores["salun"]["dr"]["loss"][2, 7] = 0.5
  score_files.save(path, scores, task="unimodal_classification")
  r = _run("rescore.py", f"--scores={path}", "--auc_num_samples=6")
  assert_one_line(r, "--auc_num_samples=6", "--auc_num_samples=5 or less")


def test_diff_results_of_a_truncated_file_is_one_line(tmp_path):
  from mmul_jax.evaluation import results
  record = results.Results(
      task="retrieval", dataset="shapes", method="finetune",
      deletion=results.Deletion("image", 5.0, 0, 2, 4, 38, "ab" * 32),
      models={"finetune": results.ModelResults({"test/itc/r1_mean": 30.0},
                                               0.9, None, 1.0)},
      summary={}, devices=[], total_seconds=1.0, config={}).to_json()
  good = tmp_path / "a.json"
  good.write_text(json.dumps(record))
  r = _run("diff_results.py", str(good), str(good))
  assert r.returncode == 0 and "identical" in r.stdout, r.stderr
  cut = tmp_path / "b.json"
  cut.write_text(json.dumps(record)[:-30])
  r = _run("diff_results.py", str(good), str(cut))
  assert_one_line(r, str(cut), "corrupt or truncated")
  cut.write_text("[1, 2]")
  r = _run("diff_results.py", str(cut), str(good))
  assert_one_line(r, str(cut), "not a results record")

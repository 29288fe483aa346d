"""scripts/benchmark.py killed with SIGKILL mid-grid and started again
finishes with the records of an uninterrupted run, and runs no finished
cell twice. Slow (about 1 minute): `python -m pytest -q -m slow`."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = ("--config.benchmark.methods=('finetune','neggrad')",
        "--config.benchmark.ratios=(10.0,)",
        "--config.benchmark.seeds=(0,1)")


def _command(workdir, data_dir):
  return [sys.executable, os.path.join(ROOT, "scripts", "benchmark.py"),
          "--config=" + os.path.join(ROOT, "configs", "tiny.py"),
          f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
          *GRID]


def _records(workdir):
  out = []
  with open(os.path.join(workdir, "records.jsonl")) as f:
    for line in f:
      r = json.loads(line)
      r.pop("seconds")  # wall times differ between runs
      out.append(r)
  return out


@pytest.mark.slow
def test_killed_grid_resumes_to_the_same_records(tmp_path, data_dir,
                                                 tiny_builder):
  del tiny_builder
  env = dict(os.environ, PYTHONPATH=ROOT)
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  r = subprocess.run(_command(straight, data_dir), env=env, cwd=ROOT,
                     capture_output=True, text=True, timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]

  proc = subprocess.Popen(_command(killed, data_dir), env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  records = os.path.join(killed, "records.jsonl")
  t0 = time.time()
  while time.time() - t0 < 900:
    if os.path.exists(records) and open(records).read().count("\n") >= 1:
      proc.send_signal(signal.SIGKILL)
      break
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    time.sleep(0.05)
  proc.wait()
  done_before = open(records).read().count("\n")
  assert 1 <= done_before < 4

  r = subprocess.run(_command(killed, data_dir), env=env, cwd=ROOT,
                     capture_output=True, text=True, timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  assert f"{done_before} done, {4 - done_before} to run" in r.stdout
  assert _records(killed) == _records(straight)

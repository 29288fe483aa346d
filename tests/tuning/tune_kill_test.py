"""scripts/tune.py killed with SIGKILL mid-study and started again ends
with the trials of an uninterrupted run, and reruns no finished trial.
Slow: `python -m pytest -q -m slow`."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TUNE = ("--config.tune.methods=('finetune',)", "--config.tune.num_trials=4",
        "--config.tune.batch_size=2", "--config.tune.startup_trials=2",
        "--config.tune.validation_fraction=0.2",
        "--config.tune.num_steps=(2,3)", "--config.tune.df_batch_sizes=(4,)")


def _command(workdir, data_dir):
  return [sys.executable, os.path.join(ROOT, "scripts", "tune.py"),
          "--config=" + os.path.join(ROOT, "configs", "tiny.py"),
          f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
          *TUNE]


def _trials(workdir):
  record = json.load(open(os.path.join(workdir, "tuned.json")))
  return [(t["trial"], t["setting"], t["state"])
          for t in record["methods"]["finetune"]["trials"]]


def _batch_runs(workdir):
  return sorted(glob.glob(os.path.join(
      workdir, "tune", "trials", "finetune", "*", "*")))


@pytest.mark.slow
def test_killed_study_resumes_to_the_same_trials(tmp_path, data_dir,
                                                 tiny_builder):
  del tiny_builder
  env = dict(os.environ, PYTHONPATH=ROOT)
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  r = subprocess.run(_command(straight, data_dir), env=env, cwd=ROOT,
                     capture_output=True, text=True, timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]

  proc = subprocess.Popen(_command(killed, data_dir), env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  t0 = time.time()
  while time.time() - t0 < 900:  # kill once the second batch has begun
    if len(_batch_runs(killed)) >= 2:
      proc.send_signal(signal.SIGKILL)
      break
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    time.sleep(0.05)
  proc.wait()
  r = subprocess.run(_command(killed, data_dir), env=env, cwd=ROOT,
                     capture_output=True, text=True, timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  assert _trials(killed) == _trials(straight)
  # The first batch's trials were told before the kill: only the second
  # batch's are told after it (the tuner prints each trial it tells).
  told = lambda out: [n for n in range(4) if f"finetune trial {n}:" in out]
  assert told(r.stdout) == [2, 3]
  assert len(_batch_runs(killed)) == 2

"""scripts/tune.py killed with SIGKILL mid-study and started again ends
with the trials of an uninterrupted run, and reruns no finished trial.
Slow: `python -m pytest -q -m slow`."""

import glob
import json
import os

import pytest

import script_checks  # tests/ is on sys.path (conftest)

TUNE = ("--config.tune.methods=('finetune',)", "--config.tune.num_trials=4",
        "--config.tune.batch_size=2", "--config.tune.startup_trials=2",
        "--config.tune.validation_fraction=0.2",
        "--config.tune.num_steps=(2,3)", "--config.tune.df_batch_sizes=(4,)")


def _command(workdir, data_dir):
  return script_checks.script("tune", "tiny", f"--workdir={workdir}",
                              f"--config.data.data_dir={data_dir}", *TUNE)


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
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  script_checks.run(_command(straight, data_dir))
  # Killed once the second batch has begun.
  assert script_checks.kill_when(_command(killed, data_dir),
                                 lambda: len(_batch_runs(killed)) >= 2)
  r = script_checks.run(_command(killed, data_dir))
  assert _trials(killed) == _trials(straight)
  # The first batch's trials were told before the kill: only the second
  # batch's are told after it (the tuner prints each trial it tells).
  told = lambda out: [n for n in range(4) if f"finetune trial {n}:" in out]
  assert told(r.stdout) == [2, 3]
  assert len(_batch_runs(killed)) == 2

"""scripts/benchmark.py killed with SIGKILL mid-grid and started again
finishes with the records of an uninterrupted run, and runs no finished
cell twice. Slow (about 1 minute): `python -m pytest -q -m slow`."""

import json
import os

import pytest

import script_checks  # tests/ is on sys.path (conftest)

GRID = ("--config.benchmark.methods=('finetune','neggrad')",
        "--config.benchmark.ratios=(10.0,)",
        "--config.benchmark.seeds=(0,1)")


def _command(workdir, data_dir):
  return script_checks.script("benchmark", "tiny", f"--workdir={workdir}",
                              f"--config.data.data_dir={data_dir}", *GRID)


def _records(workdir):
  out = []
  with open(os.path.join(workdir, "records.jsonl")) as f:
    for line in f:
      r = json.loads(line)
      r.pop("seconds")  # wall times differ between runs
      out.append(r)
  return out


def _count(path):
  return open(path).read().count("\n") if os.path.exists(path) else 0


@pytest.mark.slow
def test_killed_grid_resumes_to_the_same_records(tmp_path, data_dir,
                                                 tiny_builder):
  del tiny_builder
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  script_checks.run(_command(straight, data_dir))
  records = os.path.join(killed, "records.jsonl")
  assert script_checks.kill_when(_command(killed, data_dir),
                                 lambda: _count(records) >= 1)
  done_before = _count(records)
  assert 1 <= done_before < 4

  r = script_checks.run(_command(killed, data_dir))
  assert f"{done_before} done, {4 - done_before} to run" in r.stdout
  assert _records(killed) == _records(straight)

"""Preemption: a run killed with SIGKILL, once while training and once
while unlearning, and restarted each time, ends bit-identical to an
uninterrupted run."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS, EVERY, KILL_AFTER = 24, 4, 4


def _command(workdir, data_dir):
  return [sys.executable, os.path.join(ROOT, "scripts", "unlearn.py"),
          "--config=" + os.path.join(ROOT, "configs", "tiny.py"),
          f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
          f"--config.train.num_steps={STEPS}",
          f"--config.train.checkpoint_every={EVERY}",
          f"--config.unlearn.num_steps={STEPS}",
          f"--config.unlearn.checkpoint_every={EVERY}"]


def _env():
  return dict(os.environ, PYTHONPATH=ROOT)


def _run_until_killed(cmd, pattern, timeout=300):
  """Starts `cmd`, SIGKILLs it as soon as a path matching `pattern` exists;
  returns True if it was killed (False if it finished first)."""
  proc = subprocess.Popen(cmd, env=_env(), cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  t0 = time.time()
  while proc.poll() is None and time.time() - t0 < timeout:
    if glob.glob(pattern):
      proc.send_signal(signal.SIGKILL)
      proc.wait()
      return True
    time.sleep(0.02)
  out = proc.communicate()[1]
  assert proc.returncode == 0, out[-3000:]
  return False


def _metrics(workdir):
  results = json.load(open(os.path.join(workdir, "results.json")))
  return {k: m["metrics"] for k, m in results["models"].items()}


def _final_params(pattern):
  (directory,) = glob.glob(pattern)
  state = ocp.StandardCheckpointer().restore(
      os.path.join(directory, str(STEPS), "state"))
  return state["params"]


@pytest.mark.slow
def test_sigkill_and_restart_gives_the_uninterrupted_result(tmp_path,
                                                            data_dir,
                                                            tiny_builder):
  del tiny_builder  # the dataset is prepared once for the session
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  r = subprocess.run(_command(straight, data_dir), env=_env(), cwd=ROOT,
                     capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:]

  cmd = _command(killed, data_dir)
  assert _run_until_killed(cmd, os.path.join(killed, "original",
                                             str(KILL_AFTER)))
  assert _run_until_killed(cmd, os.path.join(killed, "unlearn", "*", "*",
                                             "*", str(KILL_AFTER)))
  r = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True,
                     text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:]

  # Both phases really resumed from a checkpoint written before the kill.
  for info_file in (os.path.join(killed, "original", "train_info.json"),
                    glob.glob(os.path.join(killed, "unlearn", "*", "*", "*",
                                           "unlearn_info.json"))[0]):
    assert json.load(open(info_file))["resumed_from"] >= KILL_AFTER
  for phase in ("original", os.path.join("unlearn", "*", "*", "*")):
    jax.tree.map(np.testing.assert_array_equal,
                 _final_params(os.path.join(killed, phase)),
                 _final_params(os.path.join(straight, phase)))
  assert _metrics(killed) == _metrics(straight)

"""Preemption: a run killed with SIGKILL, once while training and once
while unlearning (the slow suite; the default suite kills it while
unlearning only), and restarted each time, ends bit-identical to an
uninterrupted run."""

import glob
import json
import os
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import script_checks  # tests/ is on sys.path (conftest)

STEPS, EVERY, KILL_AFTER = 24, 4, 4


def _command(workdir, data_dir):
  return script_checks.script(
      "unlearn", "tiny", f"--workdir={workdir}",
      f"--config.data.data_dir={data_dir}",
      f"--config.train.num_steps={STEPS}",
      f"--config.train.checkpoint_every={EVERY}",
      f"--config.unlearn.num_steps={STEPS}",
      f"--config.unlearn.checkpoint_every={EVERY}")


def _killed_at(cmd, pattern):
  """Runs `cmd`, SIGKILLed as soon as a path matching `pattern` exists."""
  return script_checks.kill_when(cmd, lambda: glob.glob(pattern), 300)


def _metrics(workdir):
  results = json.load(open(os.path.join(workdir, "results.json")))
  return {k: m["metrics"] for k, m in results["models"].items()}


def _final_params(pattern):
  (directory,) = glob.glob(pattern)
  state = ocp.StandardCheckpointer().restore(
      os.path.join(directory, str(STEPS), "state"))
  return state["params"]


def test_sigkill_while_unlearning_resumes_to_the_uninterrupted_result(
    tmp_path, data_dir, tiny_builder):
  del tiny_builder  # the dataset is prepared once for the session
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  script_checks.run(_command(straight, data_dir), 600)
  # The killed run starts from the same trained models (as a run killed
  # after training would), so it only unlearns.
  shutil.copytree(straight, killed, ignore=shutil.ignore_patterns(
      "unlearn", "results.json", "scores.npz", "tb", ".lock"))
  cmd = _command(killed, data_dir)
  unlearn_dir = os.path.join(killed, "unlearn", "*", "*", "*")
  assert _killed_at(cmd, os.path.join(unlearn_dir, str(KILL_AFTER)))
  script_checks.run(cmd, 600)
  (info_file,) = glob.glob(os.path.join(unlearn_dir, "unlearn_info.json"))
  assert json.load(open(info_file))["resumed_from"] >= KILL_AFTER
  jax.tree.map(np.testing.assert_array_equal, _final_params(unlearn_dir),
               _final_params(os.path.join(straight, "unlearn", "*", "*",
                                          "*")))
  assert _metrics(killed) == _metrics(straight)


@pytest.mark.slow
def test_sigkill_and_restart_gives_the_uninterrupted_result(tmp_path,
                                                            data_dir,
                                                            tiny_builder):
  del tiny_builder  # the dataset is prepared once for the session
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  script_checks.run(_command(straight, data_dir), 600)

  cmd = _command(killed, data_dir)
  assert _killed_at(cmd, os.path.join(killed, "original", str(KILL_AFTER)))
  assert _killed_at(cmd, os.path.join(killed, "unlearn", "*", "*", "*",
                                      str(KILL_AFTER)))
  script_checks.run(cmd, 600)

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

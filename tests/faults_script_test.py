"""The scripts stopped by Ctrl-C, a NaN, a full disk or a second run on the
same workdir: one line, the checkpoint named really on disk, no temporary
step, and a rerun that resumes (slow: whole tiny runs)."""

import glob
import json
import os
import re
import signal
import subprocess
import time

import pytest

from script_checks import ROOT
from script_checks import assert_one_line
from script_checks import env
from script_checks import script

pytestmark = pytest.mark.slow


def _command(name, workdir, data_dir, *extra):
  return script(name, "tiny", f"--workdir={workdir}",
                f"--config.data.data_dir={data_dir}", *extra)


def _run(*args, **kw):
  return subprocess.run(_command(*args, **kw), capture_output=True,
                        text=True, timeout=600, cwd=ROOT, env=env())


def _popen(*args):
  # A shell's background job ignores SIGINT, and the child would inherit
  # that: give it the default, as a terminal does.
  return subprocess.Popen(
      _command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True, cwd=ROOT, env=env(),
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _steps(directory):
  return sorted(int(n) for n in os.listdir(directory) if n.isdigit())


def _temporary(workdir):
  return glob.glob(os.path.join(workdir, "**", "*tmp*"), recursive=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_with_one_line_and_the_rerun_resumes(tmp_path,
                                                          data_dir,
                                                          tiny_builder,
                                                          signum):
  del tiny_builder
  wd = str(tmp_path / "wd")
  many = ("--config.train.num_steps=60", "--config.train.checkpoint_every=2")
  proc = _popen("train", wd, data_dir, *many)
  original = os.path.join(wd, "original")
  deadline = time.time() + 300
  while time.time() < deadline and not (
      os.path.isdir(original) and _steps(original)):
    time.sleep(0.2)
  proc.send_signal(signum)
  out, err = proc.communicate(timeout=300)
  assert proc.returncode == 130, err[-3000:]
  assert "Traceback" not in err
  last = err.strip().splitlines()[-1]
  assert last.startswith("error: interrupted at step ")
  kept = int(last.rsplit("resume from step ", 1)[1])
  assert _steps(original)[-1] == kept and not _temporary(wd)
  r = _run("train", wd, data_dir, *many)  # the same command
  assert r.returncode == 0, r.stderr[-3000:]
  info = json.load(open(os.path.join(original, "train_info.json")))
  assert info["resumed_from"] == kept


DIVERGES = ("--config.train.num_steps=60", "--config.train.log_every=20",
            "--config.train.learning_rate=1e4",
            "--config.train.grad_clip_norm=0", "--config.train.warmup_steps=0")


def test_nan_names_the_step_really_kept(tmp_path, data_dir, tiny_builder):
  del tiny_builder
  wd = str(tmp_path / "wd")
  r = _run("train", wd, data_dir, *DIVERGES,
           "--config.train.checkpoint_every=1")
  assert_one_line(r, "non-finite at step", "the last complete checkpoint")
  kept = int(r.stderr.rsplit("(step ", 1)[1].split(")")[0])
  assert _steps(os.path.join(wd, "original"))[-1] == kept
  assert not _temporary(wd)


def test_a_run_that_failed_before_its_first_checkpoint_takes_the_fix(
    tmp_path, data_dir, tiny_builder):
  del tiny_builder
  wd = str(tmp_path / "wd")
  r = _run("train", wd, data_dir, *DIVERGES,
           "--config.train.checkpoint_every=1000")
  assert_one_line(r, "non-finite at step", "no checkpoint was written")
  r = _run("train", wd, data_dir)  # the corrected config
  assert r.returncode == 0, r.stderr[-3000:]


def test_full_disk_during_a_save_is_one_line(tmp_path, data_dir,
                                             tiny_builder):
  del tiny_builder
  if os.geteuid() != 0:
    pytest.skip("mounting a small filesystem needs root")
  disk = tmp_path / "disk"
  disk.mkdir()
  # Room for the manifests and a step or two of the tiny model, not more;
  # at this size the step that fails has every parallel write fail (which
  # echoed as ~200 lines of asyncio and TensorStore tracebacks).
  if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2500k", "tmpfs",
                     str(disk)], capture_output=True).returncode:
    pytest.skip("cannot mount a tmpfs here")
  try:
    wd = str(disk / "wd")
    r = _run("train", wd, data_dir, "--config.train.num_steps=40",
             "--config.train.checkpoint_every=1")
    assert_one_line(r, "No space left on device", "rerun the same command")
    # No echo of the same failure: asyncio's unretrieved task errors,
    # TensorStore's closed loops, any logged error (absl's "E1206 12:48").
    assert not re.search(r"never retrieved|Event loop is closed|"
                         r"E\d{4} \d\d:\d\d", r.stderr), r.stderr[-3000:]
    assert not _temporary(wd)
    original = os.path.join(wd, "original")
    if "step " in r.stderr.rsplit("checkpoint", 1)[1]:
      kept = int(r.stderr.rsplit("step ", 1)[1].split(",")[0])
      assert _steps(original)[-1] == kept
  finally:
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_second_run_on_a_busy_workdir_leaves_the_first_as_alone(
    tmp_path, data_dir, tiny_builder):
  del tiny_builder
  shared, alone = str(tmp_path / "shared"), str(tmp_path / "alone")
  first = _popen("unlearn", shared, data_dir)
  lock = os.path.join(shared, ".lock")
  deadline = time.time() + 300
  while time.time() < deadline and not (
      os.path.exists(lock) and open(lock).read()):
    time.sleep(0.1)
  second = _run("unlearn", shared, data_dir)
  assert_one_line(second, f"workdir {shared} is in use by pid {first.pid}")
  _, err = first.communicate(timeout=600)
  assert first.returncode == 0, err[-3000:]
  r = _run("unlearn", alone, data_dir)
  assert r.returncode == 0, r.stderr[-3000:]
  a = json.load(open(os.path.join(shared, "results.json")))["models"]
  b = json.load(open(os.path.join(alone, "results.json")))["models"]
  for model in a:
    assert a[model]["metrics"] == b[model]["metrics"], model

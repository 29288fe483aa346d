"""One run per workdir: a second process is refused with one line, the
lock is reentrant within a process and dies with its holder."""

import os
import signal
import subprocess
import sys
import time

import pytest

from mmul_jax import errors
from mmul_jax import workdir_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = ("import sys, time\nfrom mmul_jax import workdir_lock\n"
        "workdir_lock.acquire(sys.argv[1])\nprint('locked', flush=True)\n"
        "time.sleep(600)\n")


@pytest.fixture
def holder(tmp_path):
  """Another process holding `tmp_path/wd`."""
  wd = str(tmp_path / "wd")
  proc = subprocess.Popen([sys.executable, "-c", HOLD, wd],
                          stdout=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == "locked"
  yield wd, proc
  proc.kill()
  proc.wait()


def test_second_process_is_refused_naming_the_first(holder):
  wd, proc = holder
  with pytest.raises(workdir_lock.WorkdirBusyError,
                     match=f"in use by pid {proc.pid} on .*pass another "
                     "--workdir"):
    workdir_lock.acquire(wd)
  assert os.path.realpath(wd) not in workdir_lock.held()


def test_lock_is_released_when_its_holder_is_killed(holder):
  wd, proc = holder
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  with workdir_lock.scope():
    workdir_lock.acquire(wd)
    assert os.path.realpath(wd) in workdir_lock.held()
  assert os.path.realpath(wd) not in workdir_lock.held()


def test_reentrant_within_a_process_and_scoped(tmp_path):
  wd = str(tmp_path / "a")
  key = os.path.realpath(wd)  # other tests' setup() may hold theirs
  with workdir_lock.scope():
    workdir_lock.acquire(wd)
    with workdir_lock.scope():
      workdir_lock.acquire(wd)  # the grid's runs on the grid's workdir
    assert key in workdir_lock.held()  # the inner scope kept it
    text = open(os.path.join(wd, workdir_lock.LOCK_FILE)).read()
    assert f"pid {os.getpid()}" in text
  assert key not in workdir_lock.held()
  assert open(os.path.join(wd, workdir_lock.LOCK_FILE)).read() == ""


def test_a_file_or_unwritable_directory_is_refused(tmp_path):
  (tmp_path / "f").write_text("x")
  with pytest.raises(errors.ConfigError, match="is a file, not a directory"):
    workdir_lock.acquire(str(tmp_path / "f"))
  with pytest.raises(errors.ConfigError, match="cannot create workdir"):
    workdir_lock.acquire(str(tmp_path / "f" / "sub"))


def test_unlearn_script_refuses_a_busy_workdir_at_once(holder, data_dir):
  wd, proc = holder
  t0 = time.perf_counter()
  r = subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", "unlearn.py"),
       "--config=" + os.path.join(ROOT, "configs", "tiny.py"),
       f"--workdir={wd}", f"--config.data.data_dir={data_dir}"],
      capture_output=True, text=True, timeout=300, cwd=ROOT,
      env=dict(os.environ, PYTHONPATH=ROOT))
  assert r.returncode == 2, r.stderr[-2000:]
  assert r.stderr.strip().splitlines() == [r.stderr.strip()]
  assert f"in use by pid {proc.pid}" in r.stderr
  assert sorted(os.listdir(wd)) == [workdir_lock.LOCK_FILE]
  assert time.perf_counter() - t0 < 120

"""Ctrl-C or SIGTERM at any moment of a script ends it with at most one
line on stderr and no traceback: while modules load, while the config file
runs, while a run works (exit 130 after the save in flight), and while the
interpreter exits. The moments are made deterministic by a
`sitecustomize` that pauses the script at a chosen import or at exit after
creating a marker file; each test signals once the marker is there."""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from script_checks import ROOT
from script_checks import env

# Loaded by Python at startup from PYTHONPATH: creates MMUL_TEST_MARKER,
# then sleeps, where MMUL_TEST_PAUSE says: "exit" (an exit handler
# registered first, so run last), "import:<module>" (as the module is
# imported) or "close:<text>" (as the EventLog of a phase whose directory
# holds <text> is closed: after the phase's last save, before its
# checkpoint is closed).
SITECUSTOMIZE = '''
import atexit, importlib.util, os, sys, time

def _pause():
  open(os.environ["MMUL_TEST_MARKER"], "w").close()
  time.sleep(120)

def _pause_at_close(module):
  close, text = module.EventLog.close, _WHEN[len("close:"):]
  def paused(log):
    if text in (log.directory or ""):
      _pause()
    return close(log)
  module.EventLog.close = paused

class _Finder:
  def find_spec(self, name, path=None, target=None):
    if _WHEN == "import:" + name:
      sys.meta_path.remove(self)
      _pause()
    elif _WHEN.startswith("close:") and name == "mmul_jax.training.events":
      sys.meta_path.remove(self)
      spec = importlib.util.find_spec(name)
      load = spec.loader.exec_module
      spec.loader.exec_module = lambda m: (load(m), _pause_at_close(m))
      return spec
    return None

_WHEN = os.environ.get("MMUL_TEST_PAUSE", "")
if _WHEN == "exit":
  atexit.register(_pause)
elif _WHEN:
  sys.meta_path.insert(0, _Finder())
'''

SLOW_CONFIG = '''
import os, time
import tiny

def get_config():
  open(os.environ["MMUL_TEST_MARKER"], "w").close()
  time.sleep(120)
  return tiny.get_config()
'''


def _signalled(tmp_path, cmd, signum, ready=None, pause=None, timeout=300):
  """Runs `cmd`, sends `signum` once `ready()` holds (default: the marker
  file exists), and returns (exit status, stderr lines)."""
  site = tmp_path / "site"
  site.mkdir(exist_ok=True)
  (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
  marker = tmp_path / "marker"
  ready = ready or marker.exists
  run_env = dict(env(), MMUL_TEST_MARKER=str(marker),
                 PYTHONPATH=os.pathsep.join(
                     [str(site), ROOT, os.path.join(ROOT, "configs")]))
  if pause:
    run_env["MMUL_TEST_PAUSE"] = pause
  with open(tmp_path / "stderr", "w+") as err:
    # A shell's background job ignores SIGINT and the child would inherit
    # that: give it the default, as a terminal does.
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=run_env, stdout=subprocess.DEVNULL, stderr=err,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
      t0 = time.time()
      while not ready():
        assert proc.poll() is None, open(err.name).read()[-3000:]
        assert time.time() - t0 < timeout, "the script never got there"
        time.sleep(0.05)
      proc.send_signal(signum)
      proc.wait(timeout=timeout)
    finally:
      if proc.poll() is None:
        proc.kill()
    err.seek(0)
    text = err.read()
  return proc.returncode, [ln for ln in text.splitlines() if ln.strip()]


def _interrupted_in_one_line(code, lines):
  assert code == 130, (code, lines[-30:])
  assert not any("Traceback" in ln for ln in lines), "\n".join(lines)
  assert len(lines) == 1 and lines[0].startswith("error: interrupted"), lines


def _script(name, *args):
  return [sys.executable, os.path.join(ROOT, "scripts", f"{name}.py"), *args]


TINY = "--config=" + os.path.join(ROOT, "configs", "tiny.py")


@pytest.mark.parametrize("name,signum", [
    ("unlearn", signal.SIGINT), ("train", signal.SIGTERM),
    ("shadow", signal.SIGINT), ("compare_methods", signal.SIGINT),
    ("convert_results", signal.SIGTERM), ("benchmark", signal.SIGTERM),
    ("rescore", signal.SIGINT), ("diff_results", signal.SIGTERM),
    ("tune", signal.SIGINT)])
def test_signal_while_modules_load(tmp_path, name, signum):
  args = {"convert_results": ("x.json",), "rescore": ("--scores=x.npz",),
          "diff_results": ("a.json", "b.json")}.get(name, (TINY,))
  code, lines = _signalled(tmp_path, _script(name, *args), signum,
                           pause="import:jax")
  _interrupted_in_one_line(code, lines)


def test_signal_while_the_config_file_runs(tmp_path):
  config = tmp_path / "slow_config.py"
  config.write_text(SLOW_CONFIG)
  code, lines = _signalled(
      tmp_path, _script("unlearn", f"--config={config}",
                        f"--workdir={tmp_path / 'wd'}"), signal.SIGINT)
  _interrupted_in_one_line(code, lines)
  assert not (tmp_path / "wd").exists()


@pytest.mark.parametrize("finished", [True, False])
def test_signal_while_the_interpreter_exits(tmp_path, finished):
  """After a finished run (exit 0) it is an interruption like any other;
  after an error line, that line stays the only one, with its status."""
  path = tmp_path / "records.jsonl"
  if finished:
    path.write_text("")  # an empty grid: current, nothing to convert
  code, lines = _signalled(tmp_path, _script("convert_results", str(path)),
                           signal.SIGINT, pause="exit")
  if finished:
    _interrupted_in_one_line(code, lines)
  else:
    assert code == 2, (code, lines[-30:])
    assert len(lines) == 1 and lines[0].startswith("error: cannot"), lines


def test_signal_between_the_last_save_and_its_close(tmp_path, data_dir,
                                                    tiny_builder):
  """Outside the training loop's own handling, the save in flight is
  still finished: its step is on disk, no save thread fails at exit."""
  del tiny_builder
  wd = tmp_path / "wd"
  code, lines = _signalled(
      tmp_path, _script("train", TINY, f"--workdir={wd}",
                        f"--config.data.data_dir={data_dir}"),
      signal.SIGTERM, pause="close:original")
  assert code == 130, (code, lines[-30:])
  assert not any("Traceback" in ln for ln in lines), "\n".join(lines)
  errors = [ln for ln in lines if re.search(r"error:|E\d{4} \d\d:", ln)]
  assert len(errors) == 1 and errors[0].startswith("error: interrupted"), (
      lines[-30:])
  assert "6" in os.listdir(wd / "original")  # the last step, 6
  assert not glob.glob(str(wd / "**" / "*tmp*"), recursive=True)


def test_sigterm_while_compare_methods_works(tmp_path, data_dir,
                                             tiny_builder):
  del tiny_builder
  wd = tmp_path / "wd"
  lock = wd / ".lock"
  code, lines = _signalled(
      tmp_path, _script("compare_methods", TINY, f"--workdir={wd}",
                        f"--config.data.data_dir={data_dir}",
                        "--methods=neggrad"), signal.SIGTERM,
      ready=lambda: lock.exists() and lock.read_text() != "")
  assert code == 130, (code, lines[-30:])
  assert not any("Traceback" in ln for ln in lines), "\n".join(lines)
  errors = [ln for ln in lines if "error:" in ln]
  assert len(errors) == 1 and errors[0].startswith("error: interrupted"), (
      lines[-30:])

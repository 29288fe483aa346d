"""What the script tests share: running a script from the checkout,
killing one with SIGKILL at a chosen moment, and what the bad-input tests
check of a run (one line, exit 2, a workdir left as it was)."""

import hashlib
import os
import signal
import subprocess
import sys
import time

from mmul_jax import workdir_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script(name, config, *flags):
  """The command line of scripts/<name>.py on configs/<config>.py."""
  return [sys.executable, os.path.join(ROOT, "scripts", f"{name}.py"),
          "--config=" + os.path.join(ROOT, "configs", f"{config}.py"),
          *flags]


FIXTURES = os.path.join(ROOT, "tests", "fixtures")
# A recipe shrunk to a few steps on a fake download (the backbone run
# tests): a quarter deleted, batches of 4, 4 training and 2 unlearning
# steps, one AUC sample.
QUICK_RUN = ("--config.deletion.ratio=25", "--config.train.batch_size=4",
             "--config.train.num_steps=4", "--config.unlearn.num_steps=2",
             "--config.unlearn.df_batch_size=2",
             "--config.unlearn.dr_batch_size=4",
             "--config.eval.max_dr_images=0",
             "--config.eval.auc_num_samples=1")


def recipe_run(tmp_path, config, data, *flags, option="", timeout=120):
  """scripts/unlearn.py on configs/<config>.py (`:option` after it) in
  `tmp_path/run`, on the fake download tests/fixtures/<data>; the
  completed process."""
  command = script("unlearn", config, f"--workdir={tmp_path / 'run'}",
                   f"--config.data.data_dir={tmp_path / 'tfds'}",
                   f"--config.data.manual_dir={os.path.join(FIXTURES, data)}",
                   *flags)
  if option:
    command[2] += f":{option}"
  return subprocess.run(command, capture_output=True, text=True,
                        timeout=timeout, cwd=ROOT, env=env())


def env():
  return dict(os.environ, PYTHONPATH=ROOT)


def run(cmd, timeout=900):
  """Runs `cmd` to the end; asserts it succeeded; the completed process."""
  r = subprocess.run(cmd, env=env(), cwd=ROOT, capture_output=True,
                     text=True, timeout=timeout)
  assert r.returncode == 0, r.stderr[-3000:]
  return r


def kill_when(cmd, ready, timeout=900) -> bool:
  """Starts `cmd` and SIGKILLs it as soon as `ready()` holds; True if it
  was killed, False if it finished (successfully) first."""
  proc = subprocess.Popen(cmd, env=env(), cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  t0 = time.time()
  while proc.poll() is None and time.time() - t0 < timeout:
    if ready():
      proc.send_signal(signal.SIGKILL)
      proc.wait()
      return True
    time.sleep(0.02)
  if proc.poll() is None:
    proc.kill()
    raise AssertionError(f"not ready to kill within {timeout} s: {cmd}")
  err = proc.communicate()[1].decode(errors="replace")
  assert proc.returncode == 0, err[-3000:]
  return False


def checksums(directory) -> dict:
  """Every file's SHA-256 (the lock file aside: it names its holder)."""
  out = {}
  for root, _, files in os.walk(directory):
    for name in files:
      if name == workdir_lock.LOCK_FILE:
        continue
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, directory)] = hashlib.sha256(
            f.read()).hexdigest()
  return out


def assert_one_line(r, *needles):
  """Exit 2, no traceback, and a last stderr line that names the thing."""
  assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
  assert "Traceback" not in r.stderr, r.stderr[-3000:]
  last = r.stderr.strip().splitlines()[-1]
  assert last.startswith("error: "), r.stderr[-2000:]
  for needle in needles:
    assert needle in last, (needle, last)

"""What the bad-input tests check of a script run: one line, exit 2, and a
workdir left as it was."""

import hashlib
import os

from mmul_jax import workdir_lock


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

"""One run per workdir: an exclusive lock on `WORKDIR/.lock`.

Two runs on one workdir would both do the whole job, race on the same
checkpoint steps and delete each other's temporary files. The first run
takes `fcntl.flock` on the lock file (released by the kernel when the
process ends, even by SIGKILL, so a stale file never blocks a rerun) and
writes who holds it; a second run stops with one line naming that process.
Under multi-host only process 0 locks (the others write no files of their
own there). The lock is reentrant within a process: the benchmark grid and
the method comparison run many runs on one workdir. flock works on local
filesystems and on NFSv4; on filesystems without locks the run goes on
unlocked, with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
import tempfile
import time

from absl import logging

from mmul_jax import errors

LOCK_FILE = ".lock"

_held: dict[str, int] = {}  # real path of a workdir -> the lock file's fd


class WorkdirBusyError(errors.UserError):
  """Another process holds the workdir."""


def check_writable(workdir: str, what: str = "workdir",
                   flag: str = "--workdir") -> str:
  """Creates `workdir` if needed; a file in its place or a directory the
  run cannot write is a `UserError` naming it. Returns its absolute path."""
  path = os.path.abspath(os.path.expanduser(workdir))
  try:
    os.makedirs(path, exist_ok=True)
  except FileExistsError:
    raise errors.ConfigError(f"{what} {path} is a file, not a directory; "
                             f"pass another {flag}") from None
  except OSError as e:
    raise errors.ConfigError(
        f"cannot create {what} {path} ({e.strerror}); pass a {flag} "
        "this user can write") from None
  try:  # os.access ignores read-only mounts for root; a real write tells
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as e:
    raise errors.ConfigError(
        f"cannot write to {what} {path} ({e.strerror}); pass a {flag} this "
        "user can write") from None
  return path


def _holder(path: str) -> str:
  try:
    with open(path) as f:
      text = f.read().strip()
  except OSError:
    text = ""
  return text or "another process"


def acquire(workdir: str) -> None:
  """Locks `workdir` for this process (no-op if it holds it already)."""
  path = check_writable(workdir)
  key = os.path.realpath(path)
  if key in _held:
    return
  lock_path = os.path.join(path, LOCK_FILE)
  try:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise errors.ConfigError(
        f"cannot write {lock_path} ({e.strerror}); pass a --workdir this "
        "user can write") from None
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(fd)
    raise WorkdirBusyError(
        f"workdir {path} is in use by {_holder(lock_path)}; wait for that "
        "run to finish (or stop it), or pass another --workdir") from None
  except OSError as e:
    if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
      os.close(fd)
      raise
    logging.warning("%s: this filesystem has no file locks (%s); nothing "
                    "stops a second run on this workdir", path, e.strerror)
  started = time.strftime("%Y-%m-%d %H:%M:%S")
  command = " ".join(os.path.basename(a) if i == 0 else a
                     for i, a in enumerate(sys.argv))[:300]
  info = (f"pid {os.getpid()} on {socket.gethostname()}, started {started}"
          f" ({command})\n")
  os.ftruncate(fd, 0)
  os.pwrite(fd, info.encode(), 0)
  _held[key] = fd


def release(workdir: str) -> None:
  """Unlocks `workdir` if this process holds it."""
  fd = _held.pop(os.path.realpath(os.path.abspath(
      os.path.expanduser(workdir))), None)
  if fd is not None:
    os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextlib.contextmanager
def scope():
  """Releases, on leaving, the locks taken inside (not those held before):
  a library caller's run frees its workdir when it returns."""
  before = set(_held)
  try:
    yield
  finally:
    for key in set(_held) - before:
      release(key)


def held() -> tuple[str, ...]:
  return tuple(_held)

"""Small file helpers: writes that are never seen half-done."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from typing import Any, Callable, Iterator

from mmul_jax import errors

# Per thread: the (temporary, final) paths of the files written inside
# `written_together`, or None outside it.
_together = threading.local()


def atomic_write(path: str, write: Callable[[Any], None], *,
                 binary: bool = False) -> None:
  """Calls `write(file)` on a temporary file beside `path`, then renames
  it into place: readers see the old file or the whole new one. Inside
  `written_together`, the rename waits for the end of the block."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
  try:
    with os.fdopen(fd, "wb" if binary else "w") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    pending = getattr(_together, "pending", None)
    if pending is None:
      os.replace(tmp, path)
    else:
      pending.append((tmp, path))
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


@contextlib.contextmanager
def written_together() -> Iterator[None]:
  """Makes the files written inside (by `atomic_write` and the writers
  built on it) one change: each is written whole to a temporary file
  first; when the block ends without an error they are renamed into
  place, in the order written, else all removed. A write that fails (a
  full disk, Ctrl-C) leaves every old file as it was.

  The last file written is the commit point: its old version is removed
  before the first rename, so a rename that fails (or a kill between
  renames) leaves the earlier files new beside no last file, never beside
  the old one. A block inside another joins it."""
  if getattr(_together, "pending", None) is not None:
    yield
    return
  pending = _together.pending = []
  try:
    yield
    if pending and os.path.exists(pending[-1][1]):
      os.remove(pending[-1][1])
    while pending:
      os.replace(*pending[0])
      pending.pop(0)
  finally:
    _together.pending = None
    for tmp, _ in pending:
      with contextlib.suppress(OSError):
        os.remove(tmp)


def atomic_write_text(path: str, text: str) -> None:
  """Writes `text` to a temporary file beside `path`, then renames it."""
  atomic_write(path, lambda f: f.write(text))


def atomic_write_json(path: str, obj: Any) -> None:
  atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str, *keys: str, what: str = "file",
              remedy: str = "delete it and rerun the same command",
              error: type | None = None) -> Any:
  """A JSON file, which must be an object holding `keys` if any are given.
  A truncated, corrupt or foreign one (a disk that filled, a hand edit, a
  download in another encoding) raises `error` (default `DataError`) naming
  the file (and for bytes that are not UTF-8, the line and column) and
  saying what to do (`remedy`), instead of a decoder traceback."""
  error = error or errors.DataError
  try:
    with open(path, "rb") as f:
      raw = f.read()
  except OSError as e:
    raise error(f"cannot read {what} {path} ({e.strerror}); {remedy}"
                ) from None
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    line = raw.count(b"\n", 0, e.start) + 1
    column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
    raise error(f"{path}, line {line}: byte 0x{raw[e.start]:02x} at column "
                f"{column} is not UTF-8 text; {remedy}") from None
  try:
    obj = json.loads(text)
  except ValueError as e:  # JSONDecodeError
    raise error(f"{what} {path} is corrupt or truncated ({e}); "
                f"{remedy}") from None
  missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
  if missing:
    raise error(f"{what} {path} has no {', '.join(map(repr, missing))}; "
                f"{remedy}")
  return obj

"""Small file helpers: writes that are never seen half-done."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

from mmul_jax import errors


def atomic_write(path: str, write: Callable[[Any], None], *,
                 binary: bool = False) -> None:
  """Calls `write(file)` on a temporary file beside `path`, then renames
  it into place: readers see the old file or the whole new one."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
  try:
    with os.fdopen(fd, "wb" if binary else "w") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


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

"""Small file helpers: writes that are never seen half-done."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def atomic_write_text(path: str, text: str) -> None:
  """Writes `text` to a temporary file beside `path`, then renames it."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def atomic_write_json(path: str, obj: Any) -> None:
  atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str, *, what: str = "file",
              remedy: str = "delete it and rerun the same command") -> Any:
  """A JSON file this project wrote; a truncated or corrupt one (a disk
  that filled, a hand edit) is a `DataError` that names it and says what to
  do, instead of a decoder traceback."""
  from mmul_jax import errors
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError included
    raise errors.DataError(f"{what} {path} is corrupt or truncated ({e}); "
                           f"{remedy}") from None

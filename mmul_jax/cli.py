"""What the scripts share: workdir choice and one-line errors."""

from __future__ import annotations

import os
import sys
from typing import Callable

from absl import logging

from mmul_jax import errors


def resolve_workdir(flag_value: str | None, config, config_file: str) -> str:
  """--workdir, else config.workdir, else runs/<config file stem>."""
  if flag_value:
    return flag_value
  if config.workdir:
    return config.workdir
  stem = os.path.splitext(os.path.basename(config_file))[0]
  return os.path.join("runs", stem)


def run_or_exit(fn: Callable[[], object]) -> None:
  """Runs `fn`; a user error becomes one line on stderr and exit code 2."""
  # Orbax and TFDS log every save at INFO; progress bars tell the story.
  logging.set_verbosity(logging.WARNING)
  try:
    fn()
  except errors.UserError as e:
    msg = str(e).strip().splitlines()
    print(f"error: {msg[0] if msg else type(e).__name__}", file=sys.stderr)
    sys.exit(2)

"""What the scripts share: workdir choice and one-line errors."""

from __future__ import annotations

import os
import sys
from typing import Callable

from absl import flags
import jax
from absl import logging

from mmul_jax import errors


def _unknown_override(argv: list[str]) -> str | None:
  """The first `--config.a.b=v` whose key is not in the schema."""
  from mmul_jax import config_schema
  known = config_schema.known_keys()
  for arg in argv[1:]:
    if arg.startswith("--config."):
      key = arg[len("--config."):].split("=", 1)[0]
      if key not in known:
        return key
  return None


def parse_flags(argv: list[str]) -> list[str]:
  """`app.run`'s flag parser, with bad command lines as one-line errors."""
  try:
    rest = flags.FLAGS(argv)
    if "config" in flags.FLAGS:  # config_flags defers load errors to here
      flags.FLAGS["config"].value.keys()
    return rest
  except Exception as e:  # config_flags raises assorted types
    key = _unknown_override(argv)
    if key is not None:
      msg = (f"unknown config key {key!r}; see the configs reference in "
             "README.md for the valid keys")
    else:
      lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
      msg = lines[-1] if lines else repr(e)
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def define_flags():
  """The flags every script takes: `--config` (file, overridable keys) and
  `--workdir`. Returns a function giving `(config, workdir)` after parsing."""
  from ml_collections import config_flags
  config = config_flags.DEFINE_config_file("config", None, "Config file.",
                                           lock_config=True)
  workdir = flags.DEFINE_string(
      "workdir", None, "Output directory (default: runs/<config name>).")
  flags.mark_flags_as_required(["config"])

  def values():
    return config.value, resolve_workdir(
        workdir.value, config.value, flags.FLAGS["config"].config_filename)

  return values


def resolve_workdir(flag_value: str | None, config, config_file: str) -> str:
  """--workdir, else config.workdir, else runs/<config file stem>."""
  if flag_value:
    return flag_value
  if config.workdir:
    return config.workdir
  stem = os.path.splitext(os.path.basename(config_file))[0]
  return os.path.join("runs", stem)


def enable_compilation_cache() -> None:
  """Persist compiled programs across runs (and reuse identical steps, such
  as the original's and the retrained model's, within one run).

  Set MMUL_JAX_COMPILATION_CACHE to a directory, or to "" to turn it off.
  """
  path = os.environ.get(
      "MMUL_JAX_COMPILATION_CACHE",
      os.path.join(os.path.expanduser("~"), ".cache", "mmul_jax", "xla"))
  if path:
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def run_or_exit(fn: Callable[[], object]) -> None:
  """Runs `fn`; a user error becomes its message on stderr (one line, or
  the line and what to do, e.g. download instructions) and exit code 2."""
  enable_compilation_cache()
  # Orbax and TFDS log every save at INFO; progress bars tell the story.
  logging.set_verbosity(logging.WARNING)
  try:
    fn()
  except errors.UserError as e:
    msg = str(e).strip() or type(e).__name__
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)

"""What the scripts share: workdir choice and one-line errors."""

from __future__ import annotations

import errno
import logging as std_logging
import os
import signal
import sys
from typing import Callable

from absl import flags
import jax
from absl import logging

from mmul_jax import errors
from mmul_jax import workdir_lock


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


def _config_file(argv: list[str]) -> str | None:
  for arg in argv[1:]:
    if arg.startswith("--config="):
      return arg[len("--config="):].split(":", 1)[0]
  return None


def _config_file_error(e: BaseException, path: str | None) -> str | None:
  """"config file X raised T: ..." if `e` came from running the file."""
  if not path:
    return None
  real = os.path.realpath(path)
  if not os.path.exists(real):
    return f"config file {path} does not exist"
  line = getattr(e, "lineno", None) if isinstance(e, SyntaxError) and (
      e.filename and os.path.realpath(e.filename) == real) else None
  tb = e.__traceback__
  while tb is not None:
    if os.path.realpath(tb.tb_frame.f_code.co_filename) == real:
      line = tb.tb_lineno
    tb = tb.tb_next
  if line is None:
    return None
  text = (e.msg if isinstance(e, SyntaxError) else str(e)).strip()
  text = text.splitlines()[0] if text else ""
  return (f"config file {path}, line {line} raised {type(e).__name__}"
          f"{': ' + text if text else ''}; fix the file")


def parse_flags(argv: list[str]) -> list[str]:
  """`app.run`'s flag parser, with bad command lines as one-line errors:
  unknown keys (with the closest valid ones), errors raised by the config
  file (naming it), and stray positional arguments."""
  try:
    rest = flags.FLAGS(argv)
    if "config" in flags.FLAGS:  # config_flags may defer load errors
      flags.FLAGS["config"].value.keys()
  except Exception as e:  # config_flags raises assorted types
    key = _unknown_override(argv)
    if key is not None:
      from mmul_jax import config_schema
      msg = config_schema.unknown_key_message(key)
    else:
      msg = _config_file_error(e, _config_file(argv))
      if msg is None:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        msg = lines[-1] if lines else repr(e)
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)
  if len(rest) > 1:
    print(f"error: unexpected argument(s) {' '.join(rest[1:])}; every "
          "option is a --flag (see --help)", file=sys.stderr)
    sys.exit(2)
  return rest


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


class _QuietOrbax(std_logging.Filter):
  """Drops Orbax's own error logs (tracebacks from its save threads): the
  failure they describe reaches the user once, as our one-line error."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return f"{os.sep}orbax{os.sep}" not in record.pathname


def _terminate(signum, frame):
  del signum, frame
  raise KeyboardInterrupt  # SIGTERM (preemption, kill) stops like Ctrl-C


def _os_error_message(e: OSError) -> str:
  where = f" {e.filename}" if e.filename else ""
  reason = e.strerror or str(e)
  hint = {errno.ENOSPC: "free disk space and rerun the same command (it "
                        "resumes from the last checkpoint)",
          errno.EACCES: "fix the permissions or pass another --workdir",
          errno.EPERM: "fix the permissions or pass another --workdir",
          errno.EROFS: "pass a --workdir (or data_dir) on a writable "
                       "filesystem",
          errno.ENOTDIR: "a file stands where a directory is needed; pass "
                         "another path",
          errno.EISDIR: "a directory stands where a file is needed",
          errno.ENOENT: "check the path"}.get(e.errno, "check the path and "
                                                      "rerun")
  return f"cannot use{where}: {reason}; {hint}"


def run_or_exit(fn: Callable[[], object]) -> None:
  """Runs `fn`; a user error becomes its message on stderr (one line, or
  the line and what to do, e.g. download instructions) and exit code 2.
  Operating-system errors (a full disk, a read-only directory) are one
  line too; Ctrl-C and SIGTERM stop with one line and exit code 130 once
  the checkpoint in flight is written. Anything else is a bug and keeps its
  traceback."""
  enable_compilation_cache()
  # Orbax and TFDS log every save at INFO; progress bars tell the story.
  logging.set_verbosity(logging.WARNING)
  quiet = _QuietOrbax()
  logging.get_absl_logger().addFilter(quiet)
  previous = signal.signal(signal.SIGTERM, _terminate)
  code, msg = 0, ""
  try:
    with workdir_lock.scope():
      fn()
  except errors.UserError as e:
    code, msg = e.exit_code, str(e).strip() or type(e).__name__
  except KeyboardInterrupt:
    code, msg = 130, ("interrupted; rerun the same command to resume from "
                      "the last checkpoint")
  except OSError as e:
    code, msg = 2, _os_error_message(e)
  finally:
    signal.signal(signal.SIGTERM, previous)
    logging.get_absl_logger().removeFilter(quiet)
  if code:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)

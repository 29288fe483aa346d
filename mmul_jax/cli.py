"""What the scripts share: workdir choice and one-line errors."""

from __future__ import annotations

import errno
import logging as std_logging
import os
import re
import signal
import sys
import threading
import time
import traceback
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
  """The file of `--config=FILE[:ARG]` (or `--config FILE`), as given."""
  for i, arg in enumerate(argv[1:], 1):
    name, eq, value = arg.lstrip("-").partition("=")
    if not arg.startswith("-") or name != "config":
      continue
    if not eq:
      value = argv[i + 1] if i + 1 < len(argv) else ""
    return value.split(":", 1)[0]
  return None


def _chain(e: BaseException) -> list[BaseException]:
  """`e` and the exceptions it was raised from or while handling, outermost
  first (ml_collections and absl re-raise a config file's error as a new
  exception of their own, whose own traceback ends in their code)."""
  out = []
  while e is not None and e not in out:
    out.append(e)
    e = e.__cause__ or e.__context__
  return out


def _line_in(e: BaseException, real: str) -> int | None:
  """The last line of the file `real` in `e`'s traceback (or, for a
  SyntaxError in it, the line that does not parse)."""
  line = None
  if isinstance(e, SyntaxError) and e.filename and os.path.realpath(
      e.filename) == real:
    line = e.lineno
  tb = e.__traceback__
  while tb is not None:
    if os.path.realpath(tb.tb_frame.f_code.co_filename) == real:
      line = tb.tb_lineno
    tb = tb.tb_next
  return line


_TRACEBACK_LINE = re.compile(r'^\s*File "([^"]+)", line (\d+)', re.M)


def _line_in_text(e: BaseException, real: str) -> tuple[int, str] | None:
  """`(line, "Type: message")` from a traceback printed into the message of
  `e`, for an error re-raised with the original's text but not itself."""
  text = str(e)
  found = [m for m in _TRACEBACK_LINE.finditer(text)
           if os.path.realpath(m.group(1)) == real]
  if not found:
    return None
  last = found[-1]
  rest = [ln for ln in text[last.end():].splitlines()
          if ln.strip() and not ln[0].isspace()]
  return int(last.group(2)), (rest[-1] if rest else "")


def _config_file_error(e: BaseException, path: str | None) -> str | None:
  """"config file X, line N raised T: ..." if `e` came from running the
  file (directly or re-raised by the flag libraries); a missing file or
  get_config(); None for other errors."""
  if not path:
    return None
  real = os.path.realpath(path)
  if not os.path.exists(real):
    return f"config file {path} does not exist"
  chain = _chain(e)
  # The outermost error with a line of the file: the one the file raised
  # (or raised while handling another).
  raised = next(((c, line) for c in chain
                 if (line := _line_in(c, real)) is not None), None)
  if raised is None:
    found = next(filter(None, (_line_in_text(c, real) for c in chain)), None)
    if found is not None:
      return (f"config file {path}, line {found[0]} raised {found[1]}; "
              "fix the file")
    if any(isinstance(c, AttributeError) and c.name == "get_config"
           for c in chain):
      return (f"config file {path} has no get_config() function; define "
              "get_config() returning the config (see configs/tiny.py)")
    call = next((c for c in chain if isinstance(c, TypeError)
                 and str(c).startswith("get_config()")), None)
    if call is not None:  # `--config=FILE:ARG` passes ARG to get_config
      return (f"config file {path}: {call}; --config=FILE:ARG passes ARG "
              "to get_config(): add or drop the :ARG")
    return None
  cause, line = raised
  if isinstance(cause, errors.UserError):  # e.g. a bad `:ARG`: ours to say
    return f"config file {path}: {cause}"
  if isinstance(cause, SystemExit):
    return (f"config file {path}, line {line} exits (sys.exit({cause.code!r})"
            ") instead of returning a config; a config file defines "
            "get_config() and must not exit")
  text = (cause.msg if isinstance(cause, SyntaxError) else str(cause)).strip()
  text = text.splitlines()[0] if text else ""
  return (f"config file {path}, line {line} raised {type(cause).__name__}"
          f"{': ' + text if text else ''}; fix the file")


def _flag_error(e: BaseException, argv: list[str]) -> str | None:
  """The one line for a command line that does not parse, or None for an
  exit that is not an error (--help) and goes on."""
  key = _unknown_override(argv)
  if key is not None and not isinstance(e, SystemExit):
    from mmul_jax import config_schema
    return config_schema.unknown_key_message(key)
  msg = _config_file_error(e, _config_file(argv))
  if msg is not None or isinstance(e, SystemExit):
    return msg
  lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
  return lines[-1] if lines else repr(e)


def parse_flags(argv: list[str]) -> list[str]:
  """`app.run`'s flag parser, with bad command lines as one-line errors:
  unknown keys (with the closest valid ones), errors raised by the config
  file (naming it and the line; a config file that calls sys.exit() too),
  and stray positional arguments."""
  try:
    rest = flags.FLAGS(argv)
    if "config" in flags.FLAGS:  # config_flags may defer load errors
      flags.FLAGS["config"].value.keys()
  # config_flags raises assorted types; a config file may even exit.
  except (Exception, SystemExit) as e:
    msg = _flag_error(e, argv)
    if msg is None:  # --help and the like
      raise
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
    split_lists(config.value, sys.argv)
    return config.value, resolve_workdir(
        workdir.value, config.value, flags.FLAGS["config"].config_filename)

  return values


def split_lists(config, argv: list[str]) -> None:
  """`--config.a.b=x,y` on a tuple-of-strings key gives ml_collections'
  one-element tuple `("x,y",)`: split it into `("x", "y")` (the
  literal form `--config.a.b='("x", "y")'` works as well)."""
  for arg in argv[1:]:
    if not arg.startswith("--config.") or "=" not in arg:
      continue
    *parents, name = arg[len("--config."):].split("=", 1)[0].split(".")
    node = config
    for part in parents:
      node = node[part]
    value = node[name]
    if (isinstance(value, tuple) and len(value) == 1
        and isinstance(value[0], str) and "," in value[0]):
      node[name] = tuple(x.strip() for x in value[0].split(",") if x.strip())


def resolve_workdir(flag_value: str | None, config, config_file: str) -> str:
  """--workdir, else config.workdir, else runs/<config file stem>."""
  if flag_value:
    return flag_value
  if config.workdir:
    return config.workdir
  config_file = config_file.split(":", 1)[0]  # FILE[:ARG]
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


_ORBAX = f"{os.sep}orbax{os.sep}"


class _QuietOrbax(std_logging.Filter):
  """Drops Orbax's own error logs (tracebacks from its save threads) and
  asyncio's "Task/Future exception was never retrieved" for Orbax's write
  tasks (a full disk fails every parallel write; Orbax fetches one error):
  the failure they describe reaches the user once, as our one-line error."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    if _ORBAX in record.pathname:
      return False
    if record.name != "asyncio":
      return True
    text = [record.getMessage()]
    if record.exc_info and record.exc_info[1] is not None:
      e = record.exc_info[1]
      text += [str(e)] + [frame.f_code.co_filename for frame, _ in
                          traceback.walk_tb(e.__traceback__)]
    return not any(_ORBAX in t or ".orbax-checkpoint-tmp" in t
                   for t in text)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _terminate(signum, frame):
  del signum, frame
  raise KeyboardInterrupt  # SIGTERM (preemption, kill) stops like Ctrl-C


def _resend_interrupt() -> None:
  time.sleep(0.05)  # until the hook has returned to the interrupted code
  os.kill(os.getpid(), signal.SIGINT)


def _quiet_unraisable(previous):
  """A `sys.unraisablehook` for what Python can only print, not raise."""

  def hook(unraisable):
    e = unraisable.exc_value
    if isinstance(e, KeyboardInterrupt):
      # The signal landed in a finalizer or a gc callback (jax has one),
      # where the interrupt would be printed and lost: send it again, to
      # be raised in the code that runs next.
      threading.Thread(target=_resend_interrupt, daemon=True).start()
    elif not (unraisable.object is None and isinstance(e, RuntimeError)
              and str(e) == "Event loop is closed"):
      previous(unraisable)
    # else: TensorStore reporting a write that failed after Orbax's save
    # loop had closed on the first failure: the same error, raised once.

  return hook


def _exit_now(code: int):
  """A signal handler that ends the process with `code`, printing nothing:
  for the interpreter's exit after the error line."""

  def handler(signum, frame):
    del signum, frame
    for stream in (sys.stdout, sys.stderr):
      try:
        stream.flush()
      except Exception:  # noqa: BLE001 - mid-write in the interrupted code
        pass
    os._exit(code)

  return handler


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


def _finish_saves() -> None:
  """Lets the checkpoint saves still in flight finish when a run stops
  outside a training loop's own handling (a Ctrl-C between its last save
  and its close), so that the step is on disk and no save thread fails at
  exit. A second Ctrl-C gives up on them."""
  # Not imported here if no run has imported it: then nothing was saved.
  checkpoint = sys.modules.get("mmul_jax.checkpoint")
  if checkpoint is not None:
    try:
      checkpoint.close_all()
    except KeyboardInterrupt:
      pass


def run_or_exit(fn: Callable[[], object]) -> None:
  """Runs `fn`; a user error becomes its message on stderr (one line, or
  the line and what to do, e.g. download instructions) and exit code 2.
  Operating-system errors (a full disk, a read-only directory) are one
  line too; Ctrl-C and SIGTERM stop with one line and exit code 130 once
  the checkpoint in flight is written. Anything else is a bug and keeps its
  traceback. After an error line, nothing else is printed: a signal during
  the exit ends it silently, and Orbax's echoes of a failed save stay
  quiet."""
  enable_compilation_cache()
  # Orbax and TFDS log every save at INFO; progress bars tell the story.
  logging.set_verbosity(logging.WARNING)
  quiet = _QuietOrbax()
  loggers = (logging.get_absl_logger(), std_logging.getLogger("asyncio"))
  previous = {s: signal.getsignal(s) for s in _SIGNALS}
  previous_hook = sys.unraisablehook
  code, msg = 0, ""
  try:
    for logger in loggers:
      logger.addFilter(quiet)
    sys.unraisablehook = _quiet_unraisable(previous_hook)
    for s in _SIGNALS:  # scripts/_interrupts.py's exit-at-once, until now
      signal.signal(s, _terminate)
    with workdir_lock.scope():
      try:
        fn()
      except BaseException:
        # Here the error's frames still hold their Checkpointers (and the
        # workdir is still locked).
        _finish_saves()
        raise
  except errors.UserError as e:
    code, msg = e.exit_code, str(e).strip() or type(e).__name__
  except KeyboardInterrupt:
    code, msg = 130, ("interrupted; rerun the same command to resume from "
                      "the last checkpoint")
  except OSError as e:
    code, msg = 2, _os_error_message(e)
  finally:
    for s, handler in previous.items():  # None: set outside Python
      signal.signal(s, _exit_now(code) if code else handler or signal.SIG_DFL)
    if not code:  # after an error the filters stay for the exit
      sys.unraisablehook = previous_hook
      for logger in loggers:
        logger.removeFilter(quiet)
  if code:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)

"""Errors caused by the user's input; their messages say what to do.

The scripts print these (one line, plus instructions where there are
some) and exit with status 2; anything else is
a bug and keeps its traceback.
"""


class UserError(Exception):
  """Base class of errors a user can fix by changing input."""

  exit_code = 2


class ConfigError(UserError, ValueError):
  """A config that cannot run: unknown key, bad value, impossible setting."""


class DataError(UserError, ValueError):
  """Missing or inconsistent dataset files, manifests or ids."""


class CheckpointError(UserError, RuntimeError):
  """A checkpoint directory that cannot be used."""


class NonFiniteLossError(UserError, FloatingPointError):
  """The loss or gradient became NaN/inf."""


class Interrupted(UserError):
  """Ctrl-C or SIGTERM: the run stopped cleanly and can be resumed."""

  exit_code = 130


class MissingExtraError(UserError, ImportError):
  """An optional package a feature needs is not installed."""


def require(module: str, *, extra: str, needed_for: str):
  """`import module`, or one line naming the extra that installs it."""
  import importlib  # pylint: disable=g-import-not-at-top
  try:
    return importlib.import_module(module)
  except ImportError:
    raise MissingExtraError(
        f"{needed_for} needs {module.split('.')[0]}, which is not installed: "
        f"pip install 'mmul_jax[{extra}]' (or -e '.[{extra}]' in a "
        "checkout)") from None


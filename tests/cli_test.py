"""The one line for a config file that fails, however it is given and
however the flag libraries re-raise its error; and the hooks that keep
a failed save's echoes and a misplaced Ctrl-C from printing tracebacks.
In-process: the scripts' own path to these lines is in bad_input_test.py
and interrupt_test.py."""

import logging
import os
import signal
import sys
import threading

from absl import flags
from ml_collections import config_flags
import pytest

from mmul_jax import cli


def _line(config_arg):
  """What `parse_flags` prints for `--config=<config_arg>` (None: no
  error line, the exception goes on)."""
  sys.modules.pop("config_config", None)  # config_flags reuses the module
  values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", None, "", flag_values=values,
                                  lock_config=True)
  argv = ["script.py", f"--config={config_arg}"]
  try:
    values(argv)
    values["config"].value.keys()  # an OSError is raised only here
  except (Exception, SystemExit) as e:  # noqa: BLE001 - as parse_flags
    return cli._flag_error(e, argv)
  raise AssertionError("the config loaded")


RAISES = "def get_config():\n  raise ValueError('boom')\n"


@pytest.mark.parametrize("body,arg,line,what", [
    # config_flags re-raises a ValueError or TypeError as a new one.
    (RAISES, "", 2, "raised ValueError: boom"),
    ("def get_config():\n  return 1 / 0\n", "", 2,
     "raised ZeroDivisionError: division by zero"),
    ("def _helper():\n  raise TypeError('bad')\n\n\ndef get_config():\n"
     "  return _helper()\n", "", 2, "raised TypeError: bad"),
    ("def get_config(arg):\n  raise ValueError('no ' + arg)\n", ":b16", 2,
     "raised ValueError: no b16"),
    # config_flags defers an OSError to the first use of the config.
    ("def get_config():\n  return open('/no/such/file')\n", "", 2,
     "raised FileNotFoundError: [Errno 2] No such file or directory"),
    ("import sys\n\nsys.exit(0)\n", "", 3, "exits (sys.exit(0))"),
    ("import sys\n\ndef get_config():\n  sys.exit('stop')\n", "", 4,
     "exits (sys.exit('stop'))"),
    ("def get_config(:\n", "", 1, "raised SyntaxError"),
])
def test_a_config_file_that_fails_is_named_with_its_line(
    tmp_path, body, arg, line, what):
  path = tmp_path / "cfg.py"
  path.write_text(body)
  assert _line(f"{path}{arg}").startswith(
      f"config file {path}, line {line} {what}")


@pytest.mark.parametrize("given", ["relative", "symlink"])
def test_the_file_is_named_as_given(tmp_path, monkeypatch, given):
  (tmp_path / "real").mkdir()
  (tmp_path / "real" / "cfg.py").write_text(RAISES)
  if given == "symlink":
    (tmp_path / "link.py").symlink_to(tmp_path / "real" / "cfg.py")
    name = str(tmp_path / "link.py")
  else:
    monkeypatch.chdir(tmp_path)
    name = os.path.join("real", "cfg.py")
  assert _line(name) == (f"config file {name}, line 2 raised ValueError: "
                         "boom; fix the file")


def test_a_file_without_get_config_is_named(tmp_path):
  path = tmp_path / "cfg.py"
  path.write_text("x = 1\n")
  assert _line(str(path)).startswith(
      f"config file {path} has no get_config() function; define "
      "get_config()")


def test_an_argument_get_config_does_not_take_is_named(tmp_path):
  path = tmp_path / "cfg.py"
  path.write_text("def get_config():\n  return None\n")
  assert _line(f"{path}:b16").startswith(
      f"config file {path}: get_config() takes 0 positional arguments")


def test_a_traceback_only_in_the_message_still_gives_the_line(tmp_path):
  path = tmp_path / "cfg.py"
  path.write_text(RAISES)
  e = ValueError("Error whilst parsing config file:\n\nTraceback (most "
                 f"recent call last):\n  File \"{path}\", line 2, in "
                 "get_config\n    raise KeyError('k')\nKeyError: 'k'\n")
  assert cli._config_file_error(e, str(path)) == (
      f"config file {path}, line 2 raised KeyError: 'k'; fix the file")


def test_an_exit_that_is_not_the_config_files_goes_on(tmp_path):
  path = tmp_path / "cfg.py"
  path.write_text(RAISES)
  assert cli._flag_error(SystemExit(1), ["s.py", f"--config={path}"]) is None
  assert cli._config_file(["s.py", "--config", f"{path}:x"]) == str(path)


def _record(name, message, pathname="/x/asyncio/base_events.py"):
  return logging.LogRecord(name, logging.ERROR, pathname, 1, message, (),
                           None)


def test_asyncio_reports_of_orbax_write_tasks_are_dropped():
  quiet = cli._QuietOrbax()
  orbax = f"{os.sep}orbax{os.sep}checkpoint{os.sep}serialization.py"
  assert not quiet.filter(_record(
      "asyncio", "Task exception was never retrieved\nfuture: <Task "
      f"finished coro=<async_serialize_from_host() defined at {orbax}:1>"))
  assert not quiet.filter(_record("absl", "failed", pathname=orbax))
  try:  # a gathering future's report names no Orbax file but its error
    raise ValueError("RESOURCE_EXHAUSTED: Error writing in /wd/3.orbax-"
                     "checkpoint-tmp/state")
  except ValueError as e:
    record = _record("asyncio", "_GatheringFuture exception was never "
                     "retrieved\nfuture: <_GatheringFuture finished>")
    record.exc_info = (type(e), e, e.__traceback__)
  assert not quiet.filter(record)
  assert quiet.filter(_record("asyncio", "Task exception was never "
                              "retrieved\nfuture: <Task coro=<mine()>>"))


class _Unraisable:

  def __init__(self, exc, obj=None):
    self.exc_type, self.exc_value, self.object = type(exc), exc, obj
    self.exc_traceback, self.err_msg = None, None


def test_unraisable_echoes_are_dropped_and_interrupts_sent_again(
    monkeypatch):
  passed, sent = [], threading.Event()
  hook = cli._quiet_unraisable(passed.append)
  hook(_Unraisable(RuntimeError("Event loop is closed")))
  assert passed == []
  other = _Unraisable(RuntimeError("Event loop is closed"), obj=object())
  hook(other)
  assert passed == [other]
  monkeypatch.setattr(
      os, "kill", lambda pid, signum: sent.set() if (
          pid, signum) == (os.getpid(), signal.SIGINT) else None)
  hook(_Unraisable(KeyboardInterrupt()))
  assert sent.wait(10) and passed == [other]


def test_a_comma_separated_tuple_override_is_split_into_items():
  from mmul_jax import config_schema
  c = config_schema.default_config()
  c.shadow.methods = ("mmul,salun",)  # as ml_collections parses the flag
  c.robustness.quantize = ("int8, nf4,",)
  c.tune.methods = ("scrub",)
  cli.split_lists(c, ["prog", "--config.shadow.methods=mmul,salun",
                      "--config.robustness.quantize=int8, nf4,",
                      "--config.tune.methods=scrub", "--workdir=x"])
  assert c.shadow.methods == ("mmul", "salun")
  assert c.robustness.quantize == ("int8", "nf4")
  assert c.tune.methods == ("scrub",)

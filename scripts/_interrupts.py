"""Imported first by every script, before its slow imports: from then on
Ctrl-C or SIGTERM ends the script at once, with one line and exit status
130 instead of a traceback from whatever module was loading.

Nothing is being written then (imports, flag and config parsing, and the
interpreter's exit after the work). While the work runs,
`mmul_jax.cli.run_or_exit` turns both signals into KeyboardInterrupt
instead, so that the save in flight is finished first, and puts this
handler back afterwards. Standard library only: it must load in
milliseconds.
"""

import os
import signal
import sys


def _stop(signum, frame):
  del signum, frame
  for stream in (sys.stdout, sys.stderr):
    try:  # keep what was printed (a results table) when stdout is a pipe
      stream.flush()
    except Exception:  # noqa: BLE001 - mid-write in the interrupted code
      pass
  try:
    os.write(2, b"error: interrupted; rerun the same command\n")
  except OSError:  # stderr closed: the status still tells
    pass
  os._exit(130)


for _signum in (signal.SIGINT, signal.SIGTERM):
  signal.signal(_signum, _stop)

"""Whether two results.json files hold the same results, times aside.

  python scripts/diff_results.py A.json B.json

Prints the paths of the values that differ (exact comparison; times,
devices and logged losses left out) and exits 1 if any do, 0 if none; a
file it cannot read is one line on stderr and exit status 2.
A file of schema version 1 is read through `evaluation.results_v1` first,
so a run from before the change of schema compares with one after it.
Useful to check that a change did not change behaviour, or that two
machines reproduce one run.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

import sys

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.evaluation import report
from mmul_jax.evaluation import results_v1


def _read(path: str) -> dict:
  """A results file of either schema as the current record's JSON; a
  missing, truncated or foreign file is a `DataError` naming it."""
  remedy = "rerun the run that wrote it"
  d = io_utils.read_json(path, what="results file", remedy=remedy)
  if not isinstance(d, dict):
    raise errors.DataError(f"results file {path} is JSON but not a results "
                           f"record (a {type(d).__name__}); {remedy}")
  try:
    return results_v1.load(d, path).to_json()
  except errors.DataError as e:  # the converter's do not name the file
    raise errors.DataError(
        str(e) if path in str(e) else f"{path}: {e}") from None


def main(argv):
  if len(argv) != 3:
    sys.exit(__doc__)
  try:
    a, b = (_read(path) for path in argv[1:])
  except errors.UserError as e:  # 2, as diff(1) does; 1 means they differ
    print(f"error: {e}", file=sys.stderr)
    return 2
  diff = report.differences(a, b)
  for path in diff:
    print(path)
  print(f"{len(diff)} values differ" if diff else "identical")
  return 1 if diff else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))

"""Whether two results.json files hold the same results, times aside.

  python scripts/diff_results.py A.json B.json

Prints the paths of the values that differ (exact comparison; times,
devices and logged losses left out) and exits 1 if any do, 0 if none.
A file of schema version 1 is read through `evaluation.results_v1` first,
so a run from before the change of schema compares with one after it.
Useful to check that a change did not change behaviour, or that two
machines reproduce one run.
"""

import json
import sys

from mmul_jax.evaluation import report
from mmul_jax.evaluation import results_v1


def main(argv):
  if len(argv) != 3:
    sys.exit(__doc__)
  a, b = (results_v1.load(json.load(open(path)), path).to_json()
          for path in argv[1:])
  diff = report.differences(a, b)
  for path in diff:
    print(path)
  print(f"{len(diff)} values differ" if diff else "identical")
  return 1 if diff else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))

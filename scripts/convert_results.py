"""Converts results files of schema version 1 to the current schema.

  python scripts/convert_results.py FILE [FILE ...] [--task=graph_text]

FILE is a results.json or a benchmark records.jsonl. Each converted file
keeps its original beside it as FILE.v1; files already current are left
untouched. Schema-1 records.jsonl lines do not name their task: accuracy
metrics are read as "classification", others as "retrieval"; give
`--task=graph_text` for a molecule grid. See `mmul_jax.evaluation.results`
for the names of schema 2.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

import argparse
import sys

from mmul_jax import cli
from mmul_jax.evaluation import results_v1


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("files", nargs="+")
  parser.add_argument("--task", default=None)
  args = parser.parse_args(argv[1:])

  def convert():
    for path in args.files:
      n = results_v1.convert_file(path, args.task)
      print(f"{path}: " + (f"{n} record(s) converted, original kept as "
                           f"{path}.v1" if n else "already current"))

  cli.run_or_exit(convert)


if __name__ == "__main__":
  main(sys.argv)

"""Peak memory (resident set size) of the demo run: README's first command
without the install, in a fresh workdir, as a child process.

  python benchmarks/peak_memory.py [--config=configs/mmul_demo.py]

Prints the child's peak RSS; the demo trains two models, unlearns and
evaluates, so this is the most memory any phase needs.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--config", default=os.path.join(ROOT, "configs",
                                                       "mmul_demo.py"))
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as workdir:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts",
                                                 "unlearn.py"),
                    f"--config={args.config}", f"--workdir={workdir}"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL,
                   env=dict(os.environ, MMUL_JAX_COMPILATION_CACHE=""))
    seconds = time.perf_counter() - t0
  peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
  print(f"demo run: {seconds:.0f} s, peak RSS {peak_kb / 1024 ** 2:.2f} GiB")


if __name__ == "__main__":
  main()

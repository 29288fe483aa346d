"""What importing the losses costs, against the core they need and against
everything a run loads: modules and seconds, each the median of fresh
processes.

  python benchmarks/import_cost.py [--repeats=5]

Target: `import mmul_jax.losses` under 1 s beyond `import jax, flax, optax,
chex`. Run it with nothing else on the machine; compare as a ratio from one
run (imports read many small files, so a cold file cache is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = {
    "core (jax, flax, optax, chex)": "import jax, flax, optax, chex",
    "core + mmul_jax.losses": "import jax, flax, optax, chex\n"
                              "import mmul_jax.losses",
    "what a run loads (mmul_jax.experiment)": "import mmul_jax.experiment",
}
_TIMED = """
import json, sys, time
t = time.perf_counter()
exec(sys.argv[1])
print(json.dumps([time.perf_counter() - t, len(sys.modules)]))
"""


def measure(statement: str) -> tuple[float, int]:
  out = subprocess.run([sys.executable, "-c", _TIMED, statement],
                       capture_output=True, text=True, check=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=ROOT)).stdout
  seconds, modules = json.loads(out.strip().splitlines()[-1])
  return seconds, modules


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args()
  measure(CASES["core (jax, flax, optax, chex)"])  # warm the file cache
  rows = {}
  for name, statement in CASES.items():
    runs = [measure(statement) for _ in range(args.repeats)]
    rows[name] = (statistics.median(s for s, _ in runs), runs[0][1])
  core_s, core_n = rows["core (jax, flax, optax, chex)"]
  print(f"{'import':42s} {'seconds':>8s} {'modules':>8s} {'beyond core':>12s}")
  for name, (seconds, modules) in rows.items():
    print(f"{name:42s} {seconds:8.2f} {modules:8d} "
          f"{seconds - core_s:+8.2f} s {modules - core_n:+5d}")
  losses_extra = rows["core + mmul_jax.losses"][0] - core_s
  print(f"losses beyond the core: {losses_extra:.2f} s (target < 1 s: "
        f"{'met' if losses_extra < 1 else 'missed'})")


if __name__ == "__main__":
  main()

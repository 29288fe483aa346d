"""MMUL unlearning step: steps per second and compile time on 1 and on 8
(fake CPU) devices, parameters replicated or FSDP, on the demo's model and
batch sizes.

  python benchmarks/step_scaling.py [--steps=30]

Each device count runs in its own process (the device count is fixed when
JAX starts). On one CPU, 8 fake devices share the same cores, so the ratio
measures the cost of partitioning the step, not a speed-up; on 8 real
accelerators the same program runs data-parallel.
"""

import argparse
import json
import os
import subprocess
import sys


# The demo's tiny model has few large arrays; this splits its weight
# matrices (4,096+ elements) so the FSDP row measures the gathers.
FSDP_MIN_SIZE = 4096


def child(num_devices: int, steps: int, fsdp: bool) -> None:
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             f" --xla_force_host_platform_device_count="
                             f"{num_devices}")
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import _common
  from mmul_jax.training import sharding
  c = _common.demo_config()
  mesh = sharding.make_mesh(num_devices)
  step, state, frozen = _common.mmul_step(
      c, mesh, FSDP_MIN_SIZE if fsdp else 0)
  batches = _common.unlearning_batches(c, 4)
  compile_s, rate = _common.time_steps(step, state, frozen, batches, mesh,
                                       steps)
  print(json.dumps({"devices": num_devices, "fsdp": fsdp,
                    "compile_s": compile_s, "steps_per_s": rate}))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=30)
  parser.add_argument("--child", type=int, default=0)
  parser.add_argument("--fsdp", action="store_true")
  args = parser.parse_args()
  if args.child:
    return child(args.child, args.steps, args.fsdp)
  rows = []
  for n, fsdp in ((1, False), (8, False), (8, True)):
    out = subprocess.run([sys.executable, __file__, f"--child={n}",
                          f"--steps={args.steps}"] + ["--fsdp"] * fsdp,
                         capture_output=True, text=True, check=True)
    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
  for r in rows:
    print(f"{r['devices']} device(s){' FSDP' if r['fsdp'] else ''}: "
          f"compile {r['compile_s']:.1f} s, {r['steps_per_s']:.2f} steps/s")
  for r, what in ((rows[1], "8/1 devices"), (rows[2], "8 FSDP/1 device")):
    print(f"ratio {what}, steps/s: "
          f"{r['steps_per_s'] / rows[0]['steps_per_s']:.2f}; compile time: "
          f"{r['compile_s'] / rows[0]['compile_s']:.2f}")


if __name__ == "__main__":
  main()

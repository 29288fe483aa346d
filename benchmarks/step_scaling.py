"""MMUL unlearning step: steps per second and compile time on 1 and on 8
(fake CPU) devices, on the demo's model and batch sizes.

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


def child(num_devices: int, steps: int) -> None:
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             f" --xla_force_host_platform_device_count="
                             f"{num_devices}")
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import _common
  from mmul_jax.training import sharding
  c = _common.demo_config()
  mesh = sharding.make_mesh(num_devices)
  step, state, frozen = _common.mmul_step(c, mesh)
  batches = [{"df": _common.synthetic_part(c, c.unlearn.df_batch_size, s),
              "dr": _common.synthetic_part(c, c.unlearn.dr_batch_size,
                                           100 + s)} for s in range(4)]
  compile_s, rate = _common.time_steps(step, state, frozen, batches, mesh,
                                       steps)
  print(json.dumps({"devices": num_devices, "compile_s": compile_s,
                    "steps_per_s": rate}))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=30)
  parser.add_argument("--child", type=int, default=0)
  args = parser.parse_args()
  if args.child:
    return child(args.child, args.steps)
  rows = []
  for n in (1, 8):
    out = subprocess.run([sys.executable, __file__, f"--child={n}",
                          f"--steps={args.steps}"], capture_output=True,
                         text=True, check=True)
    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
  for r in rows:
    print(f"{r['devices']} device(s): compile {r['compile_s']:.1f} s, "
          f"{r['steps_per_s']:.2f} steps/s")
  print(f"ratio 8/1 devices, steps/s: "
        f"{rows[1]['steps_per_s'] / rows[0]['steps_per_s']:.2f}")
  print(f"ratio 8/1 devices, compile time: "
        f"{rows[1]['compile_s'] / rows[0]['compile_s']:.2f}")


if __name__ == "__main__":
  main()

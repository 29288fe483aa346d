"""Input pipeline vs the step: unlearning batches per second that grain
delivers from the embedded dataset, against MMUL steps per second, in one
run on the demo's sizes.

  python benchmarks/input_pipeline.py [--batches=200] [--steps=30]

Target: the pipeline at least 3x faster than the step, so the step never
waits for input.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batches", type=int, default=200)
  parser.add_argument("--steps", type=int, default=30)
  args = parser.parse_args()

  from mmul_jax import experiment
  from mmul_jax.data import datasets
  from mmul_jax.data.core import pipeline
  from mmul_jax.data.core import tokenizer as tokenizer_lib
  from mmul_jax.training import sharding
  c = _common.demo_config()
  d = c.data
  builder = datasets.prepare(d)
  train = pipeline.index_split(builder.as_data_source()["train"])
  tok = tokenizer_lib.shapes_tokenizer(c.model.context_length)
  n_df = int(round(len(train) * c.deletion.ratio / 100))
  streams = {
      "df": pipeline.training_stream(
          train, train.image_ids[:n_df], tok=tok,
          batch_size=c.unlearn.df_batch_size, seed=1, mean=d.mean,
          std=d.std, image_size=d.image_size),
      "dr": pipeline.training_stream(
          train, train.image_ids[n_df:], tok=tok,
          batch_size=c.unlearn.dr_batch_size, seed=2, mean=d.mean,
          std=d.std, image_size=d.image_size)}
  its = {k: pipeline.iterate(s, 0) for k, s in streams.items()}
  batches = [{k: next(it) for k, it in its.items()} for _ in range(5)]
  t0 = time.perf_counter()
  for _ in range(args.batches):
    batches.append({k: next(it) for k, it in its.items()})
  input_rate = args.batches / (time.perf_counter() - t0)

  mesh = sharding.make_mesh(1)
  step, state, frozen = _common.mmul_step(c, mesh)
  _, step_rate = _common.time_steps(step, state, frozen, batches[:8], mesh,
                                    args.steps)
  print(f"input pipeline: {input_rate:.1f} unlearning batches/s "
        f"(Df {c.unlearn.df_batch_size} + Dr {c.unlearn.dr_batch_size} "
        "examples each)")
  print(f"MMUL step:      {step_rate:.1f} steps/s")
  print(f"ratio pipeline/step: {input_rate / step_rate:.1f} (target >= 3)")


if __name__ == "__main__":
  main()

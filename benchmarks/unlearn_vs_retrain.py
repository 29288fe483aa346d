"""MMUL's unlearning wall time against retraining from scratch on Dr, both
in full and only until the retrained model reaches MMUL's test recall@1.

  python benchmarks/unlearn_vs_retrain.py [--workdir=runs/mmul_demo]

Runs (or loads) the demo: original, retrained and MMUL models in WORKDIR.
Then it retrains from scratch on Dr once more with the same recipe,
measuring test R@1 (cosine ranking) every `--eval_every` steps, and stops
at the first step that reaches MMUL's test R@1. Step time excludes the
evaluations. Target: MMUL at most 10% of the retraining time.
"""

import argparse
import contextlib
import io
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", default=os.path.join(_common.ROOT, "runs",
                                                       "mmul_demo"))
  parser.add_argument("--eval_every", type=int, default=25)
  args = parser.parse_args()

  from mmul_jax import experiment
  from mmul_jax import optim
  from mmul_jax.data.core import pipeline
  from mmul_jax.evaluation import evaluate
  from mmul_jax.evaluation import retrieval
  from mmul_jax.training import loop
  from mmul_jax.training import sharding
  from mmul_jax.training import state as state_lib
  from mmul_jax.unlearn import run as run_lib

  c = _common.demo_config()
  with contextlib.redirect_stdout(io.StringIO()):
    results = run_lib.run(c, args.workdir)
  mmul, retrained = results.models["mmul"], results.models["retrained"]
  target = mmul.metrics["test/itc/r1_mean"]
  full_retrain = retrained.wall_seconds

  exp = experiment.setup(c, args.workdir)
  embedder = evaluate.Embedder(exp.model, batch_size=c.eval.batch_size,
                               mean=c.data.mean, std=c.data.std)
  test = exp.eval_sets["test"]

  def test_r1(params):
    img = embedder.images(params, test.images)["image_embed"]
    txt = embedder.texts(params, test.text)["text_embed"]
    return retrieval.recall_at_k(img @ txt.T, test.caption_owner,
                                 (1,))["r1_mean"]

  t = c.train
  tx = optim.adamw(learning_rate=t.learning_rate, num_steps=t.num_steps,
                   warmup_steps=t.warmup_steps, weight_decay=t.weight_decay,
                   grad_clip_norm=t.grad_clip_norm, kind="cosine",
                   end_ratio=t.end_learning_rate_ratio).tx
  state = jax.device_put(
      state_lib.create(experiment.init_params(exp, c.seed), tx),
      sharding.replicated(exp.mesh))
  step = loop.make_step(exp.task.task_term(
      exp.model, itm_weight=t.itm_weight), tx, jax.random.key(c.seed),
      exp.mesh)
  batches = pipeline.iterate(pipeline.training_stream(
      exp.train, exp.deletion.retain_ids, tok=exp.tokenizer,
      batch_size=t.batch_size, seed=c.seed, mean=c.data.mean,
      std=c.data.std, image_size=c.data.image_size), 0)
  seconds, reached, r1 = 0.0, None, 0.0
  for k in range(1, t.num_steps + 1):
    batch = sharding.shard_batch(next(batches), exp.mesh)
    t0 = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    seconds += time.perf_counter() - t0
    if k % args.eval_every == 0 or k == t.num_steps:
      r1 = test_r1(state.params)
      if r1 >= target:
        reached = k
        break

  print(f"MMUL unlearning: {mmul.wall_seconds:.1f} s "
        f"({c.unlearn.num_steps} steps), test R@1 {target:.1f}")
  print(f"retraining on Dr, full recipe: {full_retrain:.1f} s "
        f"({t.num_steps} steps), test R@1 "
        f"{retrained.metrics['test/itc/r1_mean']:.1f}")
  if reached:
    print(f"retraining on Dr until test R@1 >= {target:.1f}: {seconds:.1f} s "
          f"({reached} steps, R@1 {r1:.1f})")
  else:
    print(f"retraining never reached test R@1 {target:.1f} "
          f"({seconds:.1f} s, {t.num_steps} steps)")
  ratio = mmul.wall_seconds / full_retrain
  print(f"ratio MMUL / full retraining: {ratio:.3f} (target <= 0.10)")
  if reached:
    print(f"ratio MMUL / retraining to the same test R@1: "
          f"{mmul.wall_seconds / seconds:.3f}")


if __name__ == "__main__":
  main()

"""Shared by the benchmarks: the demo's model and an MMUL step on a mesh."""

from __future__ import annotations

import os
import sys
import time

import jax
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "configs"))


def demo_config(width: int = 0, layers: int = 0):
  """The demo's config; `width` > 0 sets every tower's width, `layers` > 0
  the image and text towers' depth (the speed benchmarks' sizes)."""
  import mmul_demo  # configs/mmul_demo.py
  c = mmul_demo.get_config()
  if width:
    c.model.update(vision_width=width, text_width=width, fusion_width=width,
                   embed_dim=width)
  if layers:
    c.model.update(vision_layers=layers, text_layers=layers)
  return c


def unlearning_batches(c, count: int) -> list[dict]:
  """`count` synthetic {"df", "dr"} batches at the config's unlearning
  batch sizes."""
  return [{"df": synthetic_part(c, c.unlearn.df_batch_size, s),
           "dr": synthetic_part(c, c.unlearn.dr_batch_size, 100 + s)}
          for s in range(count)]


def synthetic_part(c, n: int, seed: int) -> dict:
  """A batch with the demo's shapes (values do not matter for speed)."""
  r = np.random.default_rng(seed)
  size = c.model.image_size
  tokens = r.integers(4, c.model.vocab_size, (n, c.model.context_length))
  tokens[:, -1] = c.model.eot_id
  return {"image": r.normal(size=(n, size, size, 3)).astype(np.float32),
          "text": tokens.astype(np.int32),
          "image_id": np.arange(n, dtype=np.int32) + 1000 * seed}


def mmul_step(c, mesh, fsdp_min_size: int = 0):
  """(jitted step, state, frozen params) for the demo's MMUL settings;
  parameters replicated, or FSDP with `fsdp_min_size > 0`."""
  from mmul_jax import methods
  from mmul_jax import models
  from mmul_jax import tasks
  from mmul_jax.methods import mmul
  from mmul_jax.training import loop
  from mmul_jax.training import sharding
  from mmul_jax.training import state as state_lib
  model = models.build(c.model)
  part = synthetic_part(c, 1, 0)
  frozen = {"original": model.init(jax.random.key(0), part["image"],
                                   part["text"])}
  h = c.method.mmul
  term = mmul.loss(tasks.Retrieval(None), model, md_weight=h.md_weight, ukr_weight=h.ukr_weight,
                   mkr_weight=h.mkr_weight, negative_source=h.negative_source)
  from mmul_jax.unlearn import phases
  tx = phases.optimizer(c, methods.Plan(loss=term)).tx
  params = jax.tree.map(np.array, frozen["original"])
  state = state_lib.create(params, tx, term.init(params))
  state_sharding = sharding.state_sharding(state, mesh, fsdp_min_size)
  frozen_sharding = sharding.state_sharding(frozen, mesh, fsdp_min_size)
  step = loop.make_step(term, tx, jax.random.key(1), mesh, with_frozen=True,
                        state_sharding=state_sharding,
                        frozen_sharding=frozen_sharding)
  return (step, jax.device_put(state, state_sharding),
          jax.device_put(frozen, frozen_sharding))


def time_steps(step, state, frozen, batches, mesh, num_steps: int):
  """(compile seconds incl. the first step, steady steps per second)."""
  from mmul_jax.training import sharding
  sharded = [sharding.shard_batch(b, mesh) for b in batches]
  t0 = time.perf_counter()
  state, m = step(state, sharded[0], frozen)
  jax.block_until_ready(m)
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  for i in range(num_steps):
    state, m = step(state, sharded[i % len(sharded)], frozen)
  jax.block_until_ready(m)
  return compile_s, num_steps / (time.perf_counter() - t0)

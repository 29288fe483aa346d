"""Run as a script with 8 fake CPU devices (see mesh_test.py): the jitted
training and unlearning steps on a 1-device and an 8-device mesh, from the
same state and batches, and on 8 devices with FSDP (parameters, optimiser
state and the frozen model split over devices). Prints a JSON dict of
per-step losses, gradient norms, the largest parameter difference, trace
counts and how many parameter arrays FSDP split."""

import json
import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8")

import jax  # noqa: E402  (after XLA_FLAGS)
import numpy as np  # noqa: E402
import optax  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "configs"))
import tiny  # noqa: E402

from mmul_jax import losses  # noqa: E402
from mmul_jax import models  # noqa: E402
from mmul_jax import tasks  # noqa: E402
from mmul_jax.methods import mmul  # noqa: E402
from mmul_jax.training import loop  # noqa: E402
from mmul_jax.training import sharding  # noqa: E402
from mmul_jax.training import state as state_lib  # noqa: E402
from mmul_jax.training import vmapped  # noqa: E402

STEPS = 3


def counted(term, counter):
  """`term`, counting how often its apply is traced."""
  def apply(*args, **kwargs):
    counter[0] += 1
    return term.apply(*args, **kwargs)
  return losses.LossTerm(term.init, apply)


def batch(c, n, seed):
  r = np.random.default_rng(seed)
  tokens = r.integers(4, c.model.vocab_size, (n, c.model.context_length))
  tokens[:, -1] = c.model.eot_id
  size = c.model.image_size
  return {"image": r.normal(size=(n, size, size, 3)).astype(np.float32),
          "text": tokens.astype(np.int32),
          "image_id": (np.arange(n) + 1000 * seed).astype(np.int32)}


def run(term, params, frozen, batches, num_devices, fsdp_min_size=0):
  mesh = sharding.make_mesh(num_devices)
  # SGD with momentum: parameter differences are gradient differences
  # (Adam would amplify float noise in near-zero gradients into visible
  # steps), and there is optimiser state for FSDP to split.
  tx = optax.sgd(1e-2, momentum=0.9)
  params = jax.tree.map(np.array, params)  # the step donates its state
  state = state_lib.create(params, tx, term.init(params))
  state_sharding = sharding.state_sharding(state, mesh, fsdp_min_size)
  state = jax.device_put(state, state_sharding)
  extra, frozen_sharding = (), None
  if frozen is not None:
    frozen_sharding = sharding.state_sharding(frozen, mesh, fsdp_min_size)
    extra = (jax.device_put(frozen, frozen_sharding),)
  step = loop.make_step(term, tx, jax.random.key(7), mesh,
                        with_frozen=frozen is not None,
                        state_sharding=state_sharding,
                        frozen_sharding=frozen_sharding)
  out = []
  for b in batches:
    state, metrics = step(state, sharding.shard_batch(b, mesh), *extra)
    out.append({k: float(metrics[k]) for k in ("loss", "grad_norm")})
  split = sum(not x.sharding.is_fully_replicated
              for x in jax.tree.leaves(state.params))
  return out, jax.device_get(state.params), split


def run_vmapped(term, thetas, batches, num_devices):
  """8 models under vmap, the model axis split over `num_devices`."""
  mesh = sharding.make_mesh(num_devices)
  tx = optax.sgd(1e-2, momentum=0.9)
  states = vmapped.stack([state_lib.create(jax.tree.map(np.array, t), tx)
                          for t in thetas])
  states = jax.device_put(states, vmapped.model_sharding(states, mesh))
  step = vmapped.make_step(term, tx, jax.numpy.stack(
      [jax.random.key(k) for k in range(len(thetas))]), mesh)
  losses_ = []
  for b in batches:
    states, metrics = step(states, sharding.shard_batch(b, mesh))
    losses_.append(np.asarray(metrics["loss"]).tolist())
  split = all(not x.sharding.is_fully_replicated
              for x in jax.tree.leaves(states.params))
  return losses_, jax.device_get(states.params), split


# The check's parts, by name (the command line's arguments; none: all).
PARTS = ("train", "mmul", "vmap")


def main(parts):
  assert jax.device_count() == 8, jax.devices()
  c = tiny.get_config()
  model = models.build(c.model)
  dummy = batch(c, 1, 0)
  theta0 = model.init(jax.random.key(0), dummy["image"], dummy["text"])
  theta = jax.tree.map(lambda x: x + 0.01, theta0)
  result = {}
  cases = {
      "train": (tasks.Retrieval(None).task_term(model), None,
                [batch(c, 16, s) for s in range(STEPS)]),
      "mmul": (mmul.loss(tasks.Retrieval(None), model), {"original": theta0},
               [{"df": batch(c, 8, s), "dr": batch(c, 16, 100 + s)}
                for s in range(STEPS)]),
  }
  for name, (term, frozen, batches) in cases.items():
    if name not in parts:
      continue
    runs = {}
    for key, n, fsdp in ((1, 1, 0), (8, 8, 0), ("fsdp", 8, 1024)):
      traces = [0]
      runs[key] = run(counted(term, traces), theta, frozen, batches, n, fsdp)
      result[f"{name}_traces_{key}"] = traces[0]
      result[f"{name}_metrics_{key}"] = runs[key][0]
      result[f"{name}_split_{key}"] = runs[key][2]
      result[f"{name}_max_param_diff_{key}"] = max(
          float(np.max(np.abs(a - b))) for a, b in
          zip(jax.tree.leaves(runs[1][1]), jax.tree.leaves(runs[key][1])))
    result[f"{name}_num_params"] = len(jax.tree.leaves(theta))
    result[f"{name}_max_param_move"] = max(
        float(np.max(np.abs(a - b))) for a, b in
        zip(jax.tree.leaves(runs[1][1]), jax.tree.leaves(theta)))
  if "vmap" in parts:
    vmapped_part(result, c, model, theta0)
  print(json.dumps(result))


def vmapped_part(result, c, model, theta0):
  """K = 8 models under vmap: one per device on 8, all on 1."""
  term = tasks.Retrieval(None).task_term(model)
  thetas = [jax.tree.map(lambda x, k=k: x + 0.01 * k, theta0)
            for k in range(8)]
  stacked = [vmapped.stack([batch(c, 8, 10 * k + s) for k in range(8)])
             for s in range(STEPS)]
  traces = {}
  runs = {}
  for n in (1, 8):
    counter = [0]
    runs[n] = run_vmapped(counted(term, counter), thetas, stacked, n)
    traces[n] = counter[0]
  result["vmap_traces"] = [traces[1], traces[8]]
  result["vmap_losses"] = [runs[1][0], runs[8][0]]
  result["vmap_split_8"] = runs[8][2]
  result["vmap_max_param_diff"] = max(
      float(np.max(np.abs(a - b))) for a, b in
      zip(jax.tree.leaves(runs[1][1]), jax.tree.leaves(runs[8][1])))
  result["vmap_max_param_move"] = max(
      float(np.max(np.abs(a - np.asarray(b)))) for a, b in
      zip(jax.tree.leaves(runs[1][1]), jax.tree.leaves(vmapped.stack(thetas))))


if __name__ == "__main__":
  unknown = set(sys.argv[1:]) - set(PARTS)
  assert not unknown, f"unknown parts {sorted(unknown)}; choose from {PARTS}"
  main(set(sys.argv[1:]) or set(PARTS))

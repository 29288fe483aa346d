"""Run as a script with 8 fake CPU devices (decoder_sharding_test.py):
the Llama-layout and T5 golden models with their parameters FSDP-split
over an 8-device mesh (`training.sharding.state_sharding`, every array of
at least 64 entries) and the batch split over it, against the same models
on one device: a jitted NPO step on the answer's summed NLL (loss,
gradients, the updated parameters) and cached greedy decoding. Prints a
JSON dict."""

import json
import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8")

import jax  # noqa: E402  (after XLA_FLAGS)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from mmul_jax import losses  # noqa: E402
from mmul_jax.models import decoding  # noqa: E402
from mmul_jax.pretrained import llama_weights  # noqa: E402
from mmul_jax.pretrained import t5_weights  # noqa: E402
from mmul_jax.training import sharding  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                        "fixtures")
rng = np.random.default_rng(0)


def llama_case():
  module, params = llama_weights.load(os.path.join(FIXTURES, "llama_golden",
                                                   "llama"))
  tokens = jnp.asarray(rng.integers(2, 61, (8, 9)), jnp.int32)
  mask = jnp.ones((8, 8), bool)
  logits = lambda p: module.apply(p, tokens[:, :-1], mask)
  gen = lambda p: decoding.generate(module, p, tokens[:, :5],
                                    jnp.ones((8, 5), bool),
                                    max_new_tokens=4)[0]
  return params, logits, tokens[:, 1:], gen


def t5_case():
  module, params = t5_weights.load(os.path.join(FIXTURES, "t5_golden",
                                                "flan"))
  source = jnp.asarray(rng.integers(2, 53, (8, 7)), jnp.int32)
  target = jnp.asarray(rng.integers(2, 53, (8, 6)), jnp.int32).at[:, 0].set(0)
  smask = jnp.ones(source.shape, bool)
  logits = lambda p: module.apply(p, source, smask, target[:, :-1])
  gen = lambda p: decoding.generate_seq2seq(module, p, source, smask,
                                            max_new_tokens=4)[0]
  return params, logits, target[:, 1:], gen


def run(case):
  params, logits_of, labels, gen = case()
  mask = jnp.ones(labels.shape, bool)
  reference = losses.sequence_nll(logits_of(params), labels, mask,
                                  reduction="sum")

  def step(p):
    def loss(p):
      nll = losses.sequence_nll(logits_of(p), labels, mask, reduction="sum")
      return jnp.mean(losses.sequence_npo(nll, reference, beta=0.1))
    value, grads = jax.value_and_grad(loss)(p)
    return value, jax.tree.map(lambda x, g: x - 0.5 * g, p, grads)

  one_loss, one_params = jax.jit(step)(params)
  mesh = sharding.make_mesh(8)
  shardings = sharding.state_sharding(params, mesh, 64)
  split = jax.device_put(params, shardings)
  n_split = sum(len(x.sharding.device_set) == 8
                and x.sharding.shard_shape(x.shape) != x.shape
                for x in jax.tree.leaves(split))
  eight_loss, eight_params = jax.jit(step, out_shardings=(
      sharding.replicated(mesh), shardings))(split)
  diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
      jax.tree.leaves(one_params), jax.tree.leaves(eight_params)))
  moved = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
      jax.tree.leaves(one_params), jax.tree.leaves(params)))
  same_tokens = bool((np.asarray(jax.jit(gen)(params))
                      == np.asarray(jax.jit(gen)(split))).all())
  return {"loss_1": float(one_loss), "loss_8": float(eight_loss),
          "max_param_diff": diff, "max_param_move": moved,
          "split_arrays": int(n_split),
          "num_arrays": len(jax.tree.leaves(params)),
          "same_tokens": same_tokens}


print(json.dumps({"devices": jax.device_count(), "llama": run(llama_case),
                  "t5": run(t5_case)}))

"""LoRA on the language models (the existing `mmul_jax.lora`, which adapts
any tree's 2-D kernels): on the Llama layout's `q_proj`/`v_proj` and T5's
`q`/`v` at MU-Bench's 10 % setting, the adapted model starts exactly at
the base, an unlearning step (NPO on the answer's summed NLL) moves only
the adapters, and the merged model then differs from the base only in
the targeted kernels."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from mmul_jax import losses
from mmul_jax import lora
from mmul_jax.pretrained import llama_weights
from mmul_jax.pretrained import t5_weights

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                        "fixtures")


def _llama():
  module, params = llama_weights.load(os.path.join(FIXTURES, "llama_golden",
                                                   "llama"))
  tokens = jnp.array([[3, 17, 42, 8, 8, 55], [5, 44, 2, 19, 60, 7]])
  mask = jnp.ones(tokens.shape, bool)
  logits = lambda p: module.apply(p, tokens[:, :-1], mask[:, :-1])
  return params, logits, tokens[:, 1:], ("q_proj", "v_proj")


def _t5():
  module, params = t5_weights.load(os.path.join(FIXTURES, "t5_golden",
                                                "flan"))
  source = jnp.array([[7, 21, 3, 44, 9], [11, 4, 33, 6, 25]])
  target = jnp.array([[0, 5, 17, 22, 3], [0, 12, 2, 30, 8]])
  logits = lambda p: module.apply(p, source, jnp.ones(source.shape, bool),
                                  target[:, :-1])
  return params, logits, target[:, 1:], ("q", "v")


@pytest.mark.parametrize("make", [_llama, _t5], ids=["llama", "t5"])
def test_lora_on_language_models(make):
  params, logits_of, labels, targets = make()
  rank = lora.rank_for_fraction(params, 0.10, targets=targets)
  adapters = lora.init(params, rank=rank, rng=jax.random.key(0),
                       targets=targets, cap=False)
  assert abs(lora.trainable_fraction(params, adapters) - 0.10) < 0.03
  assert all(k.split("/")[-2] in targets for k in adapters)
  base = logits_of(params)
  np.testing.assert_array_equal(
      np.asarray(logits_of(lora.merge(params, adapters, alpha=0))),
      np.asarray(base))
  mask = jnp.ones(labels.shape, bool)
  reference = losses.sequence_nll(base, labels, mask, reduction="sum")

  def forget_loss(adapters):
    z = logits_of(lora.merge(params, adapters, alpha=0))
    nll = losses.sequence_nll(z, labels, mask, reduction="sum")
    return jnp.mean(losses.sequence_npo(nll, reference, beta=0.1))

  grads = jax.grad(forget_loss)(adapters)
  stepped = jax.tree.map(lambda a, g: a - 1.0 * g, adapters, grads)
  merged = lora.merge(params, stepped, alpha=0)
  nll = losses.sequence_nll(logits_of(merged), labels, mask,
                            reduction="sum")
  assert (np.asarray(nll) > np.asarray(reference)).all()  # forgetting
  moved = {"/".join(k) for k, v in traverse_util.flatten_dict(merged).items()
           if not np.array_equal(np.asarray(v), np.asarray(
               traverse_util.flatten_dict(params)[k]))}
  assert moved and all(k.split("/")[-2] in targets for k in moved)

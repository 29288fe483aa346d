"""LoRA at MU-Bench's trainable fractions: adapters on the named modules'
kernels only, the classifier trained whole (PEFT's `modules_to_save`),
the rank chosen so the trainable share is the fraction (uncapped, as PEFT,
which MU-Bench's 50% settings need), alpha 0 as PEFT's `lora_alpha = r`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from mmul_jax import lora


def _base(width=32, layers=3, classes=4):
  k = iter(jax.random.split(jax.random.key(0), 64))
  dense = lambda i, o: {"kernel": jax.random.normal(next(k), (i, o)),
                        "bias": jnp.zeros(o)}
  block = {"attention": {n: dense(width, width)
                         for n in ("query", "key", "value")},
           "output": dense(width, width),
           "LayerNorm": {"scale": jnp.ones(width), "bias": jnp.zeros(width)}}
  return {"params": {"encoder": {f"layer_{i}": block for i in range(layers)},
                     "classifier": dense(width, classes)},
          "batch_stats": {"bn": {"running_mean": jnp.zeros(width)}}}


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.5])
def test_the_rank_reaches_mubenchs_fraction(fraction):
  base = _base()
  targets, full = ("query", "value"), ("classifier",)
  rank = lora.rank_for_fraction(base, fraction, targets=targets, full=full)
  adapters = lora.init(base, rank=rank, rng=jax.random.key(1),
                       targets=targets, full=full, cap=False)
  got = lora.trainable_fraction(base, adapters)
  # One rank step moves the share by 2 x 2 x 3 x 32 / total.
  assert abs(got - fraction) < 0.02, (rank, got)
  names = {k.split("/")[-2] for k in adapters}
  assert names == {"query", "value", "classifier"}
  assert all(set(v) == {"full"} for k, v in adapters.items()
             if "classifier" in k)


def test_the_fraction_rank_is_not_capped_at_the_kernels_side():
  """MU-Bench's 50% on BERT-base is r 3072 on 768-wide kernels."""
  big = lora.init(_base(), rank=40, rng=jax.random.key(1),
                  targets=("query",), cap=False)
  capped = lora.init(_base(), rank=40, rng=jax.random.key(1),
                     targets=("query",))
  q = "params/encoder/layer_0/attention/query/kernel"
  assert big[q]["a"].shape == (32, 40) and capped[q]["a"].shape == (32, 32)


def test_merge_places_the_whole_trained_modules_and_scales_by_one():
  base = _base()
  adapters = lora.init(base, rank=2, rng=jax.random.key(1),
                       targets=("query",), full=("classifier",))
  jax.tree.map(np.testing.assert_array_equal,
               lora.merge(base, adapters, alpha=0.0), base)
  adapters = jax.tree.map(lambda v: v + 0.5, adapters)
  merged = traverse_util.flatten_dict(lora.merge(base, adapters, alpha=0.0))
  flat = traverse_util.flatten_dict(base)
  q = ("params", "encoder", "layer_0", "attention", "query", "kernel")
  ab = adapters["/".join(q)]
  np.testing.assert_allclose(merged[q], flat[q] + ab["a"] @ ab["b"],
                             rtol=1e-6)
  c = ("params", "classifier", "kernel")
  np.testing.assert_array_equal(merged[c], flat[c] + 0.5)
  for path, x in merged.items():
    if path[-2] not in ("query", "classifier") or path[-1] == "bias" and (
        path[-2] == "query"):
      np.testing.assert_array_equal(x, flat[path])


def test_targets_that_name_nothing_are_refused():
  with pytest.raises(ValueError, match=r"no 2-D kernel of a module named "
                     r"\('q_proj',\)"):
    lora.rank_for_fraction(_base(), 0.1, targets=("q_proj",))

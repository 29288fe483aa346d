"""Simulated weight quantisation against independent numpy computations:
symmetric round-to-nearest per output channel and per group, NF4 with
QLoRA's published codebook, bf16; which leaves are quantised; the
recovery score's arithmetic."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax.robustness import quantize
from mmul_jax.robustness import recovery

# QLoRA's NF4 table (Dettmers et al. 2023, appendix E), to 7 digits.
QLORA_NF4 = [-1.0, -0.6961928, -0.5250731, -0.3949175, -0.2844414,
             -0.1847734, -0.0910500, 0.0, 0.0795803, 0.1609302, 0.2461123,
             0.3379152, 0.4407098, 0.5626170, 0.7229568, 1.0]


def _rtn(w, bits, group):
  """Round-to-nearest in numpy, one loop per output channel and group."""
  out = np.empty_like(w)
  flat, res = w.reshape(-1, w.shape[-1]), out.reshape(-1, w.shape[-1])
  qmax = 2 ** (bits - 1) - 1
  g = group or flat.shape[0]
  for c in range(flat.shape[1]):
    for s in range(0, flat.shape[0], g):
      x = flat[s:s + g, c]
      scale = np.abs(x).max() / qmax
      res[s:s + g, c] = np.clip(np.round(x / scale), -qmax, qmax) * scale
  return out


def test_the_nf4_codebook_is_qloras():
  np.testing.assert_allclose(quantize.nf4_codebook(), QLORA_NF4, atol=1e-6)


@pytest.mark.parametrize("name, bits, group", [
    ("int8", 8, 0), ("int4", 4, 0), ("int4_g16", 4, 16), ("int3_g7", 3, 7)])
def test_round_to_nearest_matches_numpy(name, bits, group):
  w = np.random.default_rng(0).normal(size=(5, 9, 6)).astype(np.float32)
  got = np.asarray(quantize.quantize_array(jnp.asarray(w),
                                           quantize.parse(name)))
  np.testing.assert_allclose(got, _rtn(w, bits, group), rtol=1e-6,
                             atol=1e-7)
  # At most half a step from the weight; fewer bits, larger error.
  assert np.abs(got - w).max() > 0


def test_nf4_rounds_each_group_to_its_scaled_codebook():
  rng = np.random.default_rng(1)
  w = rng.normal(size=(40, 3)).astype(np.float32)
  got = np.asarray(quantize.quantize_array(jnp.asarray(w),
                                           quantize.parse("nf4_g16")))
  book = np.asarray(QLORA_NF4)
  for c in range(3):
    for s in range(0, 40, 16):
      x = w[s:s + 16, c]
      m = np.abs(x).max()
      want = book[np.abs(x[:, None] / m - book).argmin(1)] * m
      np.testing.assert_allclose(got[s:s + 16, c], want, rtol=1e-5,
                                 atol=1e-6)


def test_only_floating_weights_of_two_or_more_dimensions_change():
  tree = {"dense": {"kernel": jnp.linspace(-1, 1, 12).reshape(3, 4) * 0.37,
                    "bias": jnp.linspace(-1, 1, 4) * 0.37},
          "ids": jnp.arange(6).reshape(2, 3)}
  out = quantize.quantize_tree(tree, "int2")
  assert not np.array_equal(out["dense"]["kernel"], tree["dense"]["kernel"])
  np.testing.assert_array_equal(out["dense"]["bias"], tree["dense"]["bias"])
  np.testing.assert_array_equal(out["ids"], tree["ids"])
  bf = quantize.quantize_tree(tree, "bf16")["dense"]["kernel"]
  np.testing.assert_array_equal(
      bf, tree["dense"]["kernel"].astype(jnp.bfloat16).astype(jnp.float32))


@pytest.mark.parametrize("name", ["int9", "int1", "fp8", "nf4_g0", "int4_"])
def test_unknown_schemes_are_refused(name):
  with pytest.raises(ValueError, match="unknown quantisation scheme"):
    quantize.parse(name)


def test_recovery_score():
  assert recovery.recovery_score(0.2, 0.2) == 1.0
  assert recovery.recovery_score(0.0, 0.0) == 1.0
  assert recovery.recovery_score(0.3, 0.0) == 0.0
  assert recovery.recovery_score(0.1, -0.1) == 0.0
  assert recovery.recovery_score(0.3, 0.1) == pytest.approx(0.5)
  assert math.isnan(recovery.recovery_score(float("nan"), 0.1))
  assert recovery.delta(0.4, 0.7) == pytest.approx(0.3)

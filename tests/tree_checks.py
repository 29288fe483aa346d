"""Comparing parameter trees of runs that should agree to float rounding."""

import jax
import numpy as np


def assert_close(a, b):
  """Equal to float tolerance: batched matmuls (vmapped models or trials)
  and an injected learning rate round differently, and Adam turns a
  rounding-level gradient of a weight near zero into a step of the
  learning rate's size, so weights near zero get an absolute bound, and
  the whole tree a relative one."""
  a = [np.asarray(x, np.float64) for x in jax.tree.leaves(a)]
  b = [np.asarray(x, np.float64) for x in jax.tree.leaves(b)]
  for x, y in zip(a, b, strict=True):
    np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-3)
  diff = np.sqrt(sum(np.sum((x - y) ** 2) for x, y in zip(a, b)))
  assert diff <= 3e-4 * np.sqrt(sum(np.sum(y ** 2) for y in b))

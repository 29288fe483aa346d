"""Unlearning methods: name -> builder of `loss(params, frozen, batch, rng)`."""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax.methods import mmul


def _mmul(model, method_config):
  return mmul.make_loss(
      model, md_weight=float(method_config.md_weight),
      ukr_weight=float(method_config.ukr_weight),
      mkr_weight=float(method_config.mkr_weight),
      negative_source=method_config.negative_source)


METHODS = {"mmul": _mmul}


def build(model, method_config):
  """The loss of the method named by `method_config.name`."""
  name = method_config.name
  if name not in METHODS:
    raise errors.ConfigError(f"unknown method {name!r}; available: {sorted(METHODS)}")
  return METHODS[name](model, method_config)


__all__ = ["METHODS", "build"]

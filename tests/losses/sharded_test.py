"""Losses with an axis name give the single-device value on 8 fake devices.

The check runs in a subprocess, so only it sees 8 CPU devices."""

import os

import pytest


@pytest.fixture(scope="module")
def values(json_script):
  return json_script(os.path.join(os.path.dirname(__file__),
                                  "sharded_check.py"))


@pytest.mark.slow
@pytest.mark.parametrize("loss,ways", [
    ("contrastive", ("shard_map", "pmap", "vmap")),
    ("md", ("shard_map", "pmap")),
    ("mmul_df", ("shard_map",)),
    ("mmul_dr", ("shard_map",)),
    ("mmul_plus_df", ("shard_map",)),
    ("mmul_plus_dr", ("shard_map",)),
    ("mmul_plus_cls", ("shard_map",)),
    ("distillation", ("shard_map",)),
    ("decoupled_distillation", ("shard_map",)),
])
def test_sharded_equals_single_device(values, loss, ways):
  single = values[f"{loss}_single"]
  assert single > 0
  for way in ways:
    assert values[f"{loss}_{way}"] == pytest.approx(single, rel=1e-5), way

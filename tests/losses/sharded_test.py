"""Losses with an axis name give the single-device value on 8 fake devices.

The check runs in a subprocess, so only it sees 8 CPU devices. The
default suite checks the contrastive loss, modality decoupling and the
whole MMUL term with Df negatives; the slow suite every loss term."""

import os

import pytest

CHECK = os.path.join(os.path.dirname(__file__), "sharded_check.py")
QUICK = ("contrastive", "md", "mmul_df")


def _check(values, loss, ways):
  single = values[f"{loss}_single"]
  assert single > 0
  for way in ways:
    assert values[f"{loss}_{way}"] == pytest.approx(single, rel=1e-5), way


@pytest.fixture(scope="module")
def values(json_script):
  return json_script(CHECK)


def test_sharded_losses_equal_single_device(json_script):
  values = json_script(CHECK, *QUICK)
  assert not any(k.startswith(("mmul_dr", "mmul_plus", "distillation"))
                 for k in values)  # only the quick parts ran
  _check(values, "contrastive", ("shard_map", "pmap", "vmap"))
  _check(values, "md", ("shard_map", "pmap"))
  _check(values, "mmul_df", ("shard_map",))


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
  _check(values, loss, ways)

"""Deletion sets: nested, disjoint, hashed manifests, clear errors."""

import json

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data import deletion

IDS = np.arange(100, 300)


def test_sets_are_nested_disjoint_and_cover_the_data():
  sets = [deletion.draw(IDS, ratio=r, seed=3, dataset="x")
          for r in deletion.STANDARD_RATIOS]
  for small, big in zip(sets, sets[1:]):
    np.testing.assert_array_equal(big.forget_ids[:len(small.forget_ids)],
                                  small.forget_ids)
  for s in sets:
    assert len(s.forget_ids) == round(s.ratio / 100 * len(IDS))
    assert not np.intersect1d(s.forget_ids, s.retain_ids).size
    np.testing.assert_array_equal(
        np.sort(np.r_[s.forget_ids, s.retain_ids]), IDS)


def test_seed_changes_the_set_and_hash():
  a = deletion.draw(IDS, ratio=5, seed=0, dataset="x")
  b = deletion.draw(IDS, ratio=5, seed=1, dataset="x")
  assert a.sha256 != b.sha256
  assert a.sha256 == deletion.draw(IDS, ratio=5, seed=0, dataset="x").sha256
  assert a.sha256 == deletion.ids_hash(a.forget_ids)


@pytest.mark.parametrize("ratio", [0, -1, 100, 150])
def test_ratio_outside_open_interval_is_rejected(ratio):
  with pytest.raises(errors.ConfigError, match=r"in \(0, 100\)"):
    deletion.draw(IDS, ratio=ratio, seed=0, dataset="x")


def test_ratio_that_deletes_nothing_is_rejected():
  with pytest.raises(errors.DataError, match="at least one"):
    deletion.draw(np.arange(10), ratio=1, seed=0, dataset="x")


def test_manifest_round_trip_and_corruption(tmp_path):
  s = deletion.draw(IDS, ratio=4, seed=0, dataset="x")
  path = str(tmp_path / "m.json")
  deletion.save(s, path)
  loaded = deletion.load(path, IDS)
  np.testing.assert_array_equal(loaded.forget_ids, s.forget_ids)
  m = json.loads(open(path).read())
  m["forget_ids"][0] = int(s.retain_ids[0])  # tamper
  open(path, "w").write(json.dumps(m))
  with pytest.raises(errors.DataError, match="corrupt"):
    deletion.load(path, IDS)
  with pytest.raises(errors.DataError, match="another dataset"):
    deletion.save(s, path)
    deletion.load(path, np.arange(50))


def test_ids_that_do_not_exist_are_rejected():
  s = deletion.DeletionSet("x", "image", 0, 5.0, np.array([1, 2, 999]), IDS)
  with pytest.raises(errors.DataError, match="not in the dataset"):
    s.check()


def test_standard_sets_are_written_once(tmp_path):
  root = str(tmp_path)
  a = deletion.standard_sets(root, IDS, dataset="d/c", seed=0)
  assert sorted(a) == [float(r) for r in deletion.STANDARD_RATIOS]
  b = deletion.standard_sets(root, IDS, dataset="d/c", seed=0)
  for r in a:
    assert a[r].sha256 == b[r].sha256

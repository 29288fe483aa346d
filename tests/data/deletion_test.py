"""Deletion sets: nested, disjoint, hashed manifests, clear errors."""

import json
import os

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.data.core import deletion
from mmul_jax.data.core import deletion_policy
from mmul_jax.data.core import pipeline

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


# MU-Bench's own index files live beside the project (never committed).
MUBENCH_DF = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                          "shared", "reference", "mubench_df")
needs_mubench = pytest.mark.skipif(
    not os.path.isdir(MUBENCH_DF),
    reason="MU-Bench index files not found at ../shared/reference/mubench_df")


def _index_file(tmp_path, rows):
  path = tmp_path / "df.txt"
  path.write_text("".join(f"{r}\n" for r in rows))
  return str(path)


def test_mubench_prefix_semantics(tmp_path):
  rows = np.random.default_rng(0).permutation(1000)[:100]
  path = _index_file(tmp_path, rows)
  for ratio, n in ((10, 100), (5, 50), (2.5, 25), (1, 10), (0.15, 1)):
    got = deletion.read_mubench_indices(path, num_rows=1000, ratio=ratio)
    np.testing.assert_array_equal(got, rows[:n])
  with pytest.raises(errors.ConfigError, match=r"must be in \(0, 10\]"):
    deletion.read_mubench_indices(path, num_rows=1000, ratio=20)


def test_mubench_out_of_range_and_bad_lines_are_refused(tmp_path):
  path = _index_file(tmp_path, [3, 7, 1200, 5])
  with pytest.raises(errors.DataError,
                     match=r"line 3: row 1200 is out of range for a train "
                           r"split of 1000 rows"):
    deletion.read_mubench_indices(path, num_rows=1000, ratio=1)
  path = _index_file(tmp_path, [3, -1])
  with pytest.raises(errors.DataError, match="line 2: row -1"):
    deletion.read_mubench_indices(path, num_rows=1000, ratio=10)
  (tmp_path / "bad.txt").write_text("3\nseven\n")
  with pytest.raises(errors.DataError, match="line 2: 'seven' is not a row"):
    deletion.read_mubench_indices(str(tmp_path / "bad.txt"), num_rows=10,
                                  ratio=10)
  with pytest.raises(errors.DataError, match="cannot read"):
    deletion.read_mubench_indices(str(tmp_path / "missing.txt"),
                                  num_rows=10, ratio=10)


def test_rows_become_a_deletion_set_of_ids():
  row_ids = np.arange(50) * 10 + 7  # record i holds unit id 10 i + 7
  ds = deletion.from_rows(np.array([4, 0, 9]), row_ids, ratio=6,
                          dataset="toy")
  np.testing.assert_array_equal(ds.forget_ids, [47, 7, 97])
  assert ds.source == "mubench" and ds.tag.startswith("r6_mubench_")
  assert len(ds.retain_ids) == 47


@needs_mubench
@pytest.mark.parametrize("name,num_rows", [
    ("cifar10", 50000), ("cifar100", 50000), ("imdb", 25000),
    ("ddi", 25296), ("nlvr2", 86373), ("samsum", 14732)])
def test_real_mubench_files_are_nested_prefixes(name, num_rows):
  path = os.path.join(MUBENCH_DF, f"{name}.txt")
  lines = np.loadtxt(path, dtype=np.int64)
  previous = np.array([], np.int64)
  for ratio in range(1, 11):
    rows = deletion.read_mubench_indices(path, num_rows=num_rows,
                                         ratio=ratio)
    assert len(rows) == int(np.floor(ratio / 10 * len(lines) + 1e-9))
    np.testing.assert_array_equal(rows[:len(previous)], previous)
    previous = rows
  np.testing.assert_array_equal(previous, lines)  # 10 %: the whole file


@needs_mubench
def test_real_mubench_file_for_another_dataset_is_refused():
  # CIFAR-10's rows go up to 49,999: not an IMDB (25,000 rows) file.
  with pytest.raises(errors.DataError, match="out of range"):
    deletion.read_mubench_indices(os.path.join(MUBENCH_DF, "cifar10.txt"),
                                  num_rows=25000, ratio=1)


@needs_mubench
def test_real_ucf101_masks_are_nested_with_k_clips_per_class():
  directory = os.path.join(MUBENCH_DF, "ucf101")
  previous = np.array([], np.int64)
  for ratio in range(1, 11):  # files are named "1.txt" and "2.0.txt"
    rows = deletion.read_mubench_mask(directory, num_rows=9537, ratio=ratio)
    assert len(rows) == 101 * ratio
    assert np.isin(previous, rows).all()
    previous = rows


def test_class_skewed_set_has_one_class_and_the_uniform_size():
  ids = np.arange(400) + 1000
  labels = np.arange(400) % 4
  uniform = deletion.draw(ids, ratio=10, seed=0, dataset="toy")
  skewed = deletion.draw(ids, ratio=10, seed=0, dataset="toy",
                         labels=labels, skew_class=2)
  assert len(skewed.forget_ids) == len(uniform.forget_ids) == 40
  assert set(labels[skewed.forget_ids - 1000]) == {2}
  assert len(set(labels[uniform.forget_ids - 1000])) == 4
  small = deletion.draw(ids, ratio=5, seed=0, dataset="toy", labels=labels,
                        skew_class=2)
  np.testing.assert_array_equal(small.forget_ids, skewed.forget_ids[:20])
  assert skewed.tag.startswith("r10_class2_seed0_")
  with pytest.raises(errors.ConfigError, match="class 2 has 100 units"):
    deletion.draw(ids, ratio=30, seed=0, dataset="toy", labels=labels,
                  skew_class=2)


def _edit_manifest(path, **changes):
  m = json.loads(open(path).read())
  m.update(changes)
  m["sha256"] = deletion.ids_hash(m["forget_ids"])  # a consistent hand edit
  open(path, "w").write(json.dumps(m))


def test_manifest_counts_must_match_its_ids(tmp_path):
  ids = np.arange(80)
  s = deletion.draw(ids, ratio=10, seed=0, dataset="x")  # 8 ids
  path = str(tmp_path / "m.json")
  deletion.save(s, path)
  extra = [int(i) for i in s.retain_ids[:4]]
  _edit_manifest(path, forget_ids=[int(i) for i in s.forget_ids] + extra)
  with pytest.raises(errors.DataError,
                     match=f"{path} says num_forget = 8 but lists 12"):
    deletion.load(path, ids)
  _edit_manifest(path, num_forget=12)
  with pytest.raises(errors.DataError,
                     match=r"says ratio 10% of 80 units, which is 8 units, "
                     "but lists 12"):
    deletion.load(path, ids)


def test_a_duplicated_id_is_named_with_the_file(tmp_path):
  ids = np.arange(80)
  s = deletion.draw(ids, ratio=10, seed=0, dataset="x")
  path = str(tmp_path / "m.json")
  deletion.save(s, path)
  forget = [int(i) for i in s.forget_ids]
  _edit_manifest(path, forget_ids=forget[:-1] + [forget[0]])
  with pytest.raises(errors.DataError,
                     match=f"{path}: deletion set lists id {forget[0]} more "
                     "than once"):
    deletion.load(path, ids)
  (tmp_path / "bad.json").write_text('{"forget_ids": [1, 2]}')
  with pytest.raises(errors.DataError, match="no key 'sha256'"):
    deletion.load(str(tmp_path / "bad.json"), ids)


def test_mubench_empty_huge_and_duplicated_rows(tmp_path):
  (tmp_path / "empty.txt").write_text("\n\n")
  with pytest.raises(errors.DataError, match="is empty"):
    deletion.read_mubench_indices(str(tmp_path / "empty.txt"), num_rows=10,
                                  ratio=10)
  path = _index_file(tmp_path, [3, 10 ** 30])
  with pytest.raises(errors.DataError, match=r"line 2: row 10{30} is out "
                     "of range"):
    deletion.read_mubench_indices(path, num_rows=1000, ratio=10)
  path = _index_file(tmp_path, [3, 4, 3])
  with pytest.raises(errors.DataError,
                     match="lists row 3 more than once"):
    deletion.read_mubench_indices(path, num_rows=1000, ratio=10)
  path = _index_file(tmp_path, [3, 4])
  with pytest.raises(errors.DataError, match="which is none"):
    deletion.read_mubench_indices(path, num_rows=1000, ratio=1)


def _statement_split():
  """Five image pairs holding the statement rows 0..9 of a file, in the
  shuffled order a builder groups them in."""
  rows = [[0, 3], [1], [2, 4, 9], [5, 6, 7], [8]]
  source = [{"unit_id": 100 + i, "rows": np.asarray(r)}
            for i, r in enumerate(rows)]
  return pipeline.ImageTextSplit(source, np.arange(100, 105)), rows


def test_statement_rows_map_to_the_units_that_hold_them(tmp_path):
  """NLVR2: MU-Bench lists statements; Df is every image pair one of them
  belongs to, and the manifest says how many statements that deletes."""
  train, rows = _statement_split()
  path = tmp_path / "nlvr2.txt"
  path.write_text("9\n4\n3\n8\n")  # the 10% set: statements 9, 4, 3, 8
  c = config_schema.default_config().deletion
  c.mubench_file, c.ratio = str(path), 10.0
  root = tmp_path / "deletion"
  df = deletion_policy.deletion_set(c, train, "nlvr2", str(root),
                                    example_rows="rows")
  # Statements 9 and 4 are pair 102's, 3 is pair 100's, 8 is pair 104's.
  assert df.forget_ids.tolist() == [102, 100, 104]
  assert df.mapping == {"example_rows": 10, "rows_listed": 4, "units": 3,
                        "examples_deleted": 6}
  (manifest,) = root.glob("nlvr2/seed-1/ratio10_mubench_*.json")
  saved = json.loads(manifest.read_text())
  assert saved["mubench_mapping"] == df.mapping
  assert saved["forget_ids"] == [102, 100, 104]
  # Half the file (5%): statements 9 and 4, one pair.
  c.ratio = 5.0
  half = deletion_policy.deletion_set(c, train, "nlvr2", str(root),
                                      example_rows="rows")
  assert half.forget_ids.tolist() == [102]
  # A statement row beyond the split's 10 is refused with its line.
  path.write_text("9\n10\n")
  c.ratio = 10.0
  with pytest.raises(errors.DataError, match="line 2: row 10 is out of "
                     "range for a train split of 10 rows"):
    deletion_policy.deletion_set(c, train, "nlvr2", str(root),
                                 example_rows="rows")


def test_example_rows_must_be_each_row_once():
  with pytest.raises(errors.DataError, match="not 0..3, each once"):
    deletion.example_row_owners([[0, 1], [1, 3]])
  np.testing.assert_array_equal(
      deletion.example_row_owners([[2, 0], [1]]), [0, 1, 0])


def test_dr_evaluated_is_what_the_auc_reads_by_default():
  d = deletion.draw(IDS, ratio=5.0, seed=0, dataset="x")  # |Df| = 10
  c = config_schema.default_config()
  assert c.eval.max_dr_images == deletion_policy.AUC_SAMPLES
  auc = deletion_policy.eval_retain_ids(d, max_images=-1, seed=0,
                                        num_samples=5)
  assert len(auc) == 50 and set(auc) <= set(d.retain_ids)
  np.testing.assert_array_equal(  # the same draw for every model
      auc, deletion_policy.eval_retain_ids(d, max_images=-1, seed=0,
                                           num_samples=5))
  assert len(deletion_policy.eval_retain_ids(
      d, max_images=0, seed=0, num_samples=5)) == len(d.retain_ids)
  assert len(deletion_policy.eval_retain_ids(
      d, max_images=-1, seed=0, num_samples=100)) == len(d.retain_ids)
  c.eval.max_dr_images = -2
  with pytest.raises(errors.ConfigError, match="max_dr_images"):
    config_schema.validate(c)


def _standard(root, ratio=10.0, seed=0):
  return deletion.standard_sets(str(root), np.arange(80), dataset="x",
                                seed=seed, ratios=[ratio])[ratio]


@pytest.mark.parametrize("edit,message", [
    # Half the ids under another ratio, counts and hash recomputed: a 5%
    # set in the 10% set's file.
    (lambda m: {"forget_ids": m["forget_ids"][:4], "num_forget": 4,
                "ratio": 5.0},
     r"ratio 5% \(the config asks for 10%\); 4 ids \(the config asks for "
     r"8: 10% of 80 units\)"),
    (lambda m: {"seed": 1}, r"seed 1 \(the config asks for 0\)"),
    (lambda m: {"dataset": "y"}, r"dataset y \(the config asks for x\)"),
    # As many ids, but not the drawn ones.
    (lambda m: {"forget_ids": m["forget_ids"][::-1]},
     "its ids are not the ones seed 0 draws"),
])
def test_a_consistent_hand_edit_is_not_the_set_asked_for(tmp_path, edit,
                                                         message):
  asked = _standard(tmp_path)
  path = deletion.manifest_path(str(tmp_path), "x", 0, 10.0)
  _edit_manifest(path, **edit(json.loads(open(path).read())))
  deletion.load(path, np.arange(80))  # consistent in itself
  with pytest.raises(errors.DataError,
                     match=f"deletion manifest {path} does not hold the set "
                     f"the config asks for: {message}; delete it to "
                     "regenerate the set"):
    _standard(tmp_path)
  os.remove(path)  # what the message says to do
  np.testing.assert_array_equal(_standard(tmp_path).forget_ids,
                                asked.forget_ids)


def test_a_manifest_id_or_seed_that_is_not_an_integer_is_refused(tmp_path):
  _standard(tmp_path)
  path = deletion.manifest_path(str(tmp_path), "x", 0, 10.0)
  m = json.loads(open(path).read())
  _edit_manifest(path, forget_ids=[m["forget_ids"][0] + 0.5]
                 + m["forget_ids"][1:])
  with pytest.raises(errors.DataError,
                     match=rf"unreadable deletion manifest {path} "
                     rf"\(forget_ids\[0\] is {m['forget_ids'][0]}.5, not an "
                     r"integer\); delete it"):
    _standard(tmp_path)
  _edit_manifest(path, forget_ids=m["forget_ids"], seed=0.5)
  with pytest.raises(errors.DataError, match=r"seed is 0.5, not an integer"):
    deletion.load(path, np.arange(80))

"""results.json and scores.npz of scripts/unlearn.py are one pair: a write
that fails (a full disk) leaves the previous run's pair, a rename that
fails leaves no results.json beside scores of another run."""

import errno
import json
import os

import numpy as np
import pytest

from mmul_jax import io_utils
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import run


def _write(directory, run_id):
  run.write_outputs(str(directory), {"run": run_id},
                    {"original": {"test": {"cosine": np.full(3, run_id)}}},
                    "retrieval")


def _pair(directory):
  """(run of results.json or None, run of scores.npz or None)."""
  results = directory / run.RESULTS_FILE
  scores = directory / run.SCORES_FILE
  return (json.load(open(results))["run"] if results.exists() else None,
          int(score_files.load(str(scores))[0]["original"]["test"]["cosine"]
              [0]) if scores.exists() else None)


def _fail_call(monkeypatch, name, k):
  """Makes the k-th call of `os.<name>` (from now on) fail: a full disk."""
  real, calls = getattr(os, name), []

  def failing(*args, **kwargs):
    calls.append(args)
    if len(calls) == k:
      raise OSError(errno.ENOSPC, "No space left on device")
    return real(*args, **kwargs)

  monkeypatch.setattr(os, name, failing)


@pytest.mark.parametrize("k", [1, 2])
def test_a_failed_write_leaves_the_previous_pair(tmp_path, monkeypatch, k):
  _write(tmp_path, 1)
  with monkeypatch.context() as m:
    _fail_call(m, "fsync", k)  # one fsync per file written
    with pytest.raises(OSError):
      _write(tmp_path, 2)
  assert _pair(tmp_path) == (1, 1)
  assert sorted(os.listdir(tmp_path)) == [run.RESULTS_FILE, run.SCORES_FILE]
  _write(tmp_path, 2)
  assert _pair(tmp_path) == (2, 2)


def test_a_failed_rename_leaves_no_results_beside_other_scores(
    tmp_path, monkeypatch):
  _write(tmp_path, 1)
  with monkeypatch.context() as m:
    _fail_call(m, "replace", 2)
    with pytest.raises(OSError):
      _write(tmp_path, 2)
  results, scores = _pair(tmp_path)
  assert results in (None, scores), (results, scores)
  assert sorted(os.listdir(tmp_path)) in (
      [run.RESULTS_FILE, run.SCORES_FILE], [run.SCORES_FILE])


def test_writes_together_rename_in_order_only_when_all_are_written(
    tmp_path):
  a, b = tmp_path / "a", tmp_path / "b"
  a.write_text("old a")
  with pytest.raises(ZeroDivisionError):
    with io_utils.written_together():
      io_utils.atomic_write_text(str(a), "new a")
      assert a.read_text() == "old a"  # nothing renamed yet
      1 / 0
  assert a.read_text() == "old a" and sorted(os.listdir(tmp_path)) == ["a"]
  with io_utils.written_together():
    io_utils.atomic_write_text(str(a), "new a")
    io_utils.atomic_write_text(str(b), "new b")
  assert (a.read_text(), b.read_text()) == ("new a", "new b")
  assert sorted(os.listdir(tmp_path)) == ["a", "b"]

"""Sequential deletion requests: how Df is cut into requests (each
forgets its part among the units the earlier ones left; the cumulative
set is their union), counts refused before compute, and (slow suite) a
sequence of two requests end to end: each request's retrained model
trains without every request so far, the second unlearns from the
first's model, the gaps come from the metrics, and a second call reads
every model back."""

import json
import os

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.core import deletion
from mmul_jax.evaluation import mubench
from mmul_jax.unlearn import sequential


def _df():
  return deletion.draw(np.arange(100, 150), ratio=20.0, seed=3,
                       dataset="x")


def test_requests_cut_df_in_draw_order_and_shrink_the_data():
  df = _df()
  chain = sequential.requests(df, 3)
  parts = [s.forget_ids for s, _ in chain]
  assert [len(p) for p in parts] == [4, 3, 3]
  np.testing.assert_array_equal(np.concatenate(parts), df.forget_ids)
  gone = set()
  for i, (step, union) in enumerate(chain):
    # The earlier requests' units are gone from the data.
    assert set(step.all_ids) == set(df.all_ids) - gone
    assert not set(step.retain_ids) & (gone | set(parts[i]))
    assert len(step.before) == i
    assert step.before == tuple(deletion.ids_hash(p) for p in parts[:i])
    gone |= set(parts[i].tolist())
    assert set(union.forget_ids) == gone
    np.testing.assert_array_equal(union.all_ids, df.all_ids)
    assert step.tag != union.tag and f"seq{i + 1}of3" in step.tag
  for count in (1, 11):
    with pytest.raises(errors.ConfigError, match="requests"):
      sequential.requests(df, count)


@pytest.mark.slow
def test_two_requests_end_to_end(tmp_path, tiny_config, data_dir):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.method.name = "finetune"
  c.sequential.requests = 2
  record = sequential.run(c, str(tmp_path))
  assert [s["request"] for s in record["steps"]] == [1, 2]
  assert [s["cumulative_units"] for s in record["steps"]] == [4, 8]
  for s in record["steps"]:
    for view in ("step", "cumulative"):
      want = mubench.retrain_gaps(s[view]["finetune"],
                                  s[view]["retrained"])["mean"]
      assert s[f"{view}_gap"]["finetune"] == pytest.approx(want)
  # The second request's retrained model trained without both requests.
  infos = sorted((tmp_path / "retrain").glob("*seq2of2*/train_info.json"))
  assert len(infos) == 1
  assert json.loads(infos[0].read_text())["num_images"] == 80 - 8
  # Its unlearning is a run directory of its own.
  assert list((tmp_path / "unlearn" / "finetune").glob("*seq2of2*"))
  again = sequential.run(c, str(tmp_path))
  assert again["steps"][1]["cumulative"] == record["steps"][1]["cumulative"]
  assert os.path.exists(tmp_path / sequential.SEQUENTIAL_FILE)

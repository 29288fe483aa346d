"""The results record: flat names, schema versions, and the converter from
schema 1, on results.json files the demo and the NLVR2-style demo wrote
before the change (tests/fixtures/results_v1)."""

import doctest
import json
import os

import pytest

from mmul_jax import errors
from mmul_jax import tasks
from mmul_jax.evaluation import report
from mmul_jax.evaluation import results
from mmul_jax.evaluation import results_v1

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "results_v1")


def _old(name):
  with open(os.path.join(FIXTURES, name + ".json")) as f:
    return json.load(f)


@pytest.mark.parametrize("module", [results, results_v1],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples_run(module):
  result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
  assert result.failed == 0 and result.attempted > 0


def test_a_retrieval_record_converts_name_for_name():
  old = _old("shapes_captions_mmul")
  new = results_v1.load(old)
  o, n = old["models"]["mmul"], new.models["mmul"]
  assert n.metrics["test/itc/r1_mean"] == o["test"]["itc"]["r1_mean"]
  assert n.metrics["df/itm/t2i_r5"] == o["df"]["itm"]["t2i_r5"]
  assert n.metrics["dr/mean_pair_cosine"] == o["dr"]["mean_pair_cosine"]
  assert n.metrics["auc/cosine/values"] == o["df_vs_dr_auc"]["values"]
  assert n.metrics["auc/match/mean"] == o["df_vs_dr_auc_itm"]["mean"]
  assert n.metrics["mubench/mia/target_auc"] == o["mubench"]["mia"][
      "target_auc"]
  # Every leaf of the old evaluation has one flat name, and no more.
  leaves = results.flatten({k: v for k, v in o.items()
                            if k != "wall_seconds"})
  assert len(n.metrics) == len(leaves)
  s = old["summary"]
  assert n.overall == s["overall"]["mmul"]
  assert n.retrain_gap["mubench/mia/target_non_member_rate"] == s[
      "retrain_gap"]["mmul"]["mia_df_non_member"]
  assert n.retrain_gap["mean"] == s["retrain_gap"]["mmul"]["mean"]
  assert new.models["retrained"].retrain_gap is None
  assert n.wall_seconds == o["wall_seconds"]
  assert n.eval_seconds == s["seconds"]["mmul"]["evaluate"]
  assert new.summary == {
      "progress/auc/cosine": s["df_vs_dr_auc_progress"],
      "progress/auc/match": s["df_vs_dr_auc_itm_progress"],
      "change/test/itc/r1_mean": s["test_r1_mean_change_itc"],
      "change/test/itm/r1_mean": s["test_r1_mean_change_itm"]}
  assert new.deletion.num_forget_examples == old["deletion"][
      "num_forget_pairs"]
  # The task reads the converted record: its table and headline.
  task = tasks.for_results(new)
  assert set(task.headline_fractions(n.metrics)) | {"mean"} == set(
      n.retrain_gap)
  table = task.table(new)
  assert "moved 52% (cosine score)" in table
  # Converting is lossless both ways through JSON.
  assert results.Results.from_json(new.to_json()) == new


def test_a_classification_record_without_a_task_field_converts():
  old = _old("shapes_nlvr2_mmul")
  del old["task"]  # records before issue 16: the dataset names the task
  new = results_v1.load(old)
  assert new.task == "classification"
  m = new.models["original"].metrics
  assert m["auc/p_true/mean"] == old["models"]["original"]["df_vs_dr_auc"][
      "mean"]
  assert m["test/accuracy"] == old["models"]["original"]["test"]["accuracy"]
  assert set(new.summary) == {"progress/auc/p_true", "change/test/accuracy"}
  assert "test acc" in tasks.for_results(new).table(new)


def test_the_new_record_is_read_and_old_or_unknown_versions_are_refused(
    tmp_path):
  path = str(tmp_path / "results.json")
  with open(path, "w") as f:
    json.dump(_old("shapes_captions_mmul"), f)
  with pytest.raises(errors.DataError,
                     match=r"results.json is a schema-1 results record.*"
                     r"python scripts/convert_results.py FILE"):
    results.read(path)
  future = {**results_v1.convert(_old("shapes_captions_mmul")),
            "schema_version": 3}
  with pytest.raises(errors.DataError, match="has schema version 3"):
    results.Results.from_json(future)
  with pytest.raises(errors.DataError, match="has schema version 3"):
    results_v1.convert(future)


def test_convert_file_keeps_the_original_and_is_idempotent(tmp_path):
  path = str(tmp_path / "results.json")
  with open(path, "w") as f:
    json.dump(_old("shapes_nlvr2_mmul"), f)
  original = open(path).read()
  assert results_v1.convert_file(path) == 1
  assert open(path + ".v1").read() == original
  record = results.read(path)
  assert record.schema_version == 2 and record.method == "mmul"
  assert results_v1.convert_file(path) == 0  # already current: untouched
  # Converting another old file over a kept original is refused.
  with open(path, "w") as f:
    f.write(original)
  with pytest.raises(errors.DataError, match="results.json.v1 exists"):
    results_v1.convert_file(path)
  assert open(path).read() == original


def test_differences_compare_an_old_run_with_a_new_one():
  old = _old("shapes_captions_mmul")
  new = results_v1.convert(old)
  assert report.differences(results_v1.load(old).to_json(), new) == []
  new["models"]["mmul"]["metrics"]["test/itc/r1_mean"] += 1
  assert report.differences(results_v1.load(old).to_json(), new) == [
      "models/mmul/metrics/test/itc/r1_mean"]

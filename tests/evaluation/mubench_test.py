"""MU-Bench metrics against independent computations (scipy, sklearn)."""

import numpy as np
import pytest
from scipy.spatial import distance
from sklearn import metrics

from mmul_jax.evaluation import mubench


def test_knowledge_gap_matches_its_closed_form():
  rng = np.random.default_rng(0)
  dr = rng.random(400) < 0.8
  df = rng.random(50) < 0.3
  sampled = mubench.knowledge_gap(dr, df, num_samples=2000, seed=1)
  closed = mubench.knowledge_gap_closed_form(dr.mean(), df.mean())
  assert closed == pytest.approx(0.5 + (dr.mean() - df.mean()) / 2)
  assert sampled == pytest.approx(closed, abs=0.01)


def test_knowledge_gap_per_sample_is_the_sklearn_auc():
  rng = np.random.default_rng(3)
  dr, df = rng.random(30) < 0.6, rng.random(30) < 0.4
  # |Dr| = |Df|: every sample is all of Dr, so one AUC, computed directly.
  auc = metrics.roc_auc_score(np.r_[np.ones(30), np.zeros(30)],
                              np.r_[dr, df].astype(float))
  assert mubench.knowledge_gap(dr, df, num_samples=3) == pytest.approx(auc)
  assert auc == pytest.approx(
      mubench.knowledge_gap_closed_form(dr.mean(), df.mean()))


def test_knowledge_gap_without_a_gap_is_one_half():
  assert mubench.knowledge_gap(np.ones(10), np.ones(5)) == 0.5
  with pytest.raises(ValueError, match="Dr"):
    mubench.knowledge_gap(np.ones(3), np.ones(5))


def test_zrf_matches_scipy_jensen_shannon():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(20, 7)) * 3
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  teachers = np.random.default_rng(5)
  expected = []
  for _ in range(10):
    u = teachers.uniform(size=logits.shape)
    q = np.exp(u) / np.exp(u).sum(1, keepdims=True)
    js = np.array([distance.jensenshannon(a, b) ** 2 for a, b in zip(p, q)])
    expected.append(1 - js.mean())
  assert mubench.zrf(logits, num_samples=10, seed=5) == pytest.approx(
      np.mean(expected), rel=1e-10)


def test_zrf_bounds():
  # Confident one-hot predictions are far from a near-uniform teacher.
  assert mubench.zrf(np.eye(5)[[0, 1, 2]] * 50, num_samples=20) < 0.6
  assert mubench.zrf(np.zeros((3, 5)), num_samples=20) > 0.99
  assert mubench.zrf(np.eye(5)[[0]] * 50) >= 1 - np.log(2)


def test_harmonic_mean_and_guard_rails():
  a, b = 1 - abs(0.85 - 0.9), 1 - abs(0.15 - 0.1)
  assert mubench.harmonic_mean_score(0.85, 0.9, 0.15, 0.1) == pytest.approx(
      2 * a * b / (a + b))
  # Test accuracy dropped by more than 20 % of the original's.
  assert mubench.harmonic_mean_score(0.7, 0.9, 0.1, 0.1) == 0.0
  assert mubench.harmonic_mean_score(0.7, 0.9, 0.1, 0.1,
                                     max_dt_drop=0.4) > 0.0
  # Df accuracy more than 20 % below chance.
  assert mubench.harmonic_mean_score(0.9, 0.9, 0.07, 0.1) == 0.0
  assert mubench.harmonic_mean_score(0.9, 0.9, 0.09, 0.1) > 0.0


def test_membership_inference_separates_members_and_judges_targets():
  rng = np.random.default_rng(0)
  member = rng.normal(1.0, 1.0, size=(500, 2))
  non_member = rng.normal(-1.0, 1.0, size=(300, 2))
  looks_seen = rng.normal(1.0, 1.0, size=(100, 2))
  looks_unseen = rng.normal(-1.0, 1.0, size=(100, 2))
  seen = mubench.membership_inference(member, non_member, looks_seen)
  unseen = mubench.membership_inference(member, non_member, looks_unseen)
  assert seen["attack_auc"] > 0.85
  assert seen["target_non_member_rate"] < 0.3
  assert seen["target_auc"] > 0.85
  assert unseen["target_non_member_rate"] > 0.7
  assert abs(unseen["target_auc"] - 0.5) < 0.1
  assert mubench.membership_inference(member, non_member, looks_seen) == seen


def test_membership_inference_without_signal_is_chance():
  rng = np.random.default_rng(1)
  same = lambda n: rng.normal(size=(n, 3))
  r = mubench.membership_inference(same(400), same(400), same(100))
  assert abs(r["attack_auc"] - 0.5) < 0.08


def test_retrain_gaps():
  gaps = mubench.retrain_gaps({"a": 0.5, "b": 0.2, "c": 1.0},
                              {"a": 0.7, "b": 0.2})
  assert gaps == pytest.approx({"a": 0.2, "b": 0.0, "mean": 0.1})


def test_membership_inference_with_too_few_examples_is_not_computable():
  rng = np.random.default_rng(2)
  r = mubench.membership_inference(rng.normal(size=(4, 2)),
                                   rng.normal(size=(40, 2)),
                                   rng.normal(size=(1, 2)))
  assert set(r) == set(mubench.MIA_METRICS) | {mubench.NOT_COMPUTABLE}
  assert all(np.isnan(r[k]) for k in mubench.MIA_METRICS)
  assert r[mubench.NOT_COMPUTABLE] == (
      "4 members (Dr) and 40 non-members (test): its 5-fold "
      "cross-validation needs at least 5 of each")


def test_retrain_gaps_leave_out_what_was_not_measured():
  gaps = mubench.retrain_gaps({"a": 0.5, "mia": float("nan"), "b": None},
                              {"a": 0.7, "mia": float("nan"), "b": 0.1})
  assert gaps == pytest.approx({"a": 0.2, "mean": 0.2})


def _pairs(rng, images, captions=2):
  image = rng.normal(size=(images, 8))
  owner = np.repeat(np.arange(images), captions)
  text = image[owner] + 0.1 * rng.normal(size=(len(owner), 8))
  return {"image_embed": image, "text_embed": text, "caption_owner": owner,
          "sim": image @ text.T, "features": rng.normal(size=(len(owner), 2))}


def test_one_deleted_image_keeps_every_metric_but_the_attack():
  # `deletion.count=1`: |Df| = 1 and 2 Dr images evaluated (the AUC's two
  # samples of |Df|): 4 member pairs, fewer than the attack's 5 folds.
  from mmul_jax.evaluation.evaluators import mubench_metrics
  rng = np.random.default_rng(3)
  pairs = {"df": _pairs(rng, 1), "dr": _pairs(rng, 2),
           "test": _pairs(rng, 20)}
  out = mubench_metrics.mubench_retrieval(
      pairs, logit_scale=10.0, num_samples=2, seed=0, metric_samples=20)
  assert np.isfinite(out["knowledge_gap"]) and np.isfinite(out["zrf"])
  assert np.isnan(out["mia"]["target_auc"])
  assert "4 members (Dr)" in out["mia"][mubench.NOT_COMPUTABLE]


def test_an_attack_not_computable_is_n_a_in_the_record_and_warned(caplog):
  import json
  import types
  from mmul_jax import tasks
  from mmul_jax.data import datasets
  from mmul_jax.data.core import deletion
  from mmul_jax.evaluation import report
  from mmul_jax.evaluation import results
  task = tasks.for_dataset(datasets.DATASETS["reviews"])
  mia = mubench.not_computable("4 members (Dr) and 3 non-members (test)")

  def metrics(acc):
    return results.flatten({
        "test": {"accuracy": acc}, "df": {"accuracy": acc},
        "dr": {"accuracy": 90.0},
        "auc": {"p_true": {"mean": acc / 100, "std": 0.0,
                           "values": [acc / 100]}},
        "mubench": {"df_acc": acc / 100, "knowledge_gap": 0.6, "zrf": 0.9,
                    "df_chance": 0.5, "mia": mia}})

  evals = {"original": metrics(90.0), "retrained": metrics(70.0),
           "finetune": metrics(80.0)}
  df = deletion.draw(np.arange(20), ratio=10, seed=0, dataset="reviews")
  exp = types.SimpleNamespace(task=task, deletion=df, texts_per_unit=1.0,
                              dataset_name="reviews",
                              config=types.SimpleNamespace(to_dict=dict))
  with caplog.at_level("WARNING"):
    record = report.results_record(exp, evals, method="finetune",
                                   times={}, total_seconds=1.0)
  warned = [r.getMessage() for r in caplog.records
            if "membership attack" in r.getMessage()]
  assert warned == [
      "the membership attack (mubench/mia/*) is not computable with 4 "
      "members (Dr) and 3 non-members (test); it is reported as n/a and "
      "left out of the gaps to the retrained model (the members are the "
      "evaluated Dr examples, all of them with eval.max_dr_images = 0; the "
      "non-members the test split's)"]
  gap = record.models["finetune"].retrain_gap
  assert gap["mean"] == pytest.approx(
      np.mean([0.1, 0.1, 0.0, 0.1, 0.0, 0.0]))
  assert not any("mia" in k for k in gap)
  lines = task.table(record).splitlines()
  column = lines[0].index("MIA Df non-member")
  for row in lines[2:5]:
    assert row[column:].startswith("n/a "), row
    assert "0.900" in row  # ZRF
  # The record round-trips, the reason with it.
  back = results.Results.from_json(json.loads(json.dumps(record.to_json())))
  assert back.models["finetune"].metrics[report.MIA_REASON] == (
      "4 members (Dr) and 3 non-members (test)")

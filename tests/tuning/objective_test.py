"""The tuner's objectives, Pareto front and choice against hand-worked
numbers."""

import math

import pytest

from mmul_jax import tasks
from mmul_jax.tuning import objective


def test_gap_is_the_mean_distance_over_splits_and_every_auc():
  retrained = {"val": 50.0, "df": 40.0, "dr": 60.0,
               "auc": {"auc/cosine": 0.8, "auc/match": 0.7}}
  row = {"val": 45.0, "df": 50.0, "dr": 60.0,
         "auc": {"auc/cosine": 0.6, "auc/match": 0.9}}
  # |Δ|: 0.10 (Df), 0 (Dr), 0.05 (val), 0.2, 0.2 -> mean 0.11
  assert objective.gap(row, retrained) == pytest.approx(0.11)
  assert objective.values(row, retrained) == pytest.approx((0.11, 0.45))
  assert objective.gap(retrained, retrained) == 0.0


def test_the_max_gap_lets_no_score_hide_behind_the_others():
  retrained = {"val": 50.0, "df": 40.0, "dr": 60.0,
               "auc": {"auc/cosine": 0.8, "auc/match": 0.7}}
  # Overshoots the matching AUC by 0.25, every other score exact.
  overshoot = {"val": 50.0, "df": 40.0, "dr": 60.0,
               "auc": {"auc/cosine": 0.8, "auc/match": 0.95}}
  # Short of retraining by 0.06 on every score.
  short = {"val": 44.0, "df": 46.0, "dr": 54.0,
           "auc": {"auc/cosine": 0.74, "auc/match": 0.64}}
  # The mean prefers the overshoot (0.05 < 0.06), the max the other.
  assert objective.gap(overshoot, retrained) == pytest.approx(0.05)
  assert objective.gap(short, retrained) == pytest.approx(0.06)
  assert objective.gap(overshoot, retrained, "max") == pytest.approx(0.25)
  assert objective.gap(short, retrained, "max") == pytest.approx(0.06)
  assert objective.values(short, retrained, "max") == pytest.approx(
      (0.06, 0.44))
  with pytest.raises(ValueError, match="reduce"):
    objective.gap(short, retrained, "median")


def test_trial_row_reads_the_held_out_set_as_validation():
  task = tasks.Retrieval(None)
  metrics = {f"{s}/{task.score_metric}": v for s, v in
             (("test", 30.0), ("df", 20.0), ("dr", 70.0))}
  metrics.update({f"{a}/mean": 0.5 for a in task.aucs})
  row = objective.trial_row(metrics, task)
  assert row["val"] == 30.0 and row["df"] == 20.0 and row["dr"] == 70.0
  assert set(row["auc"]) == set(task.aucs)


def test_pareto_and_choice():
  points = [(0.2, 0.5), (0.1, 0.4), (0.3, 0.6), (0.25, 0.45), (0.1, 0.3)]
  # (0.25, 0.45) is dominated by (0.2, 0.5); (0.1, 0.3) by (0.1, 0.4).
  assert objective.pareto(points) == [0, 1, 2]
  assert objective.choose(points) == 1
  assert objective.choose([(math.nan, 0.9), (0.4, 0.1)]) == 1
  with pytest.raises(ValueError, match="no trial"):
    objective.choose([(math.inf, 0.1)])

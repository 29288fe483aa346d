"""Setting selection of the method comparison, by hand-made rows."""

import pytest

from mmul_jax.unlearn import compare


def _row(method, lr, df, dr, auc):
  return {"method": method, "setting": {"unlearn.learning_rate": lr},
          "score": "R@1", "test": 0.0, "test_rerank": None, "df": df,
          "dr": dr, "auc": auc, "auc_std": 0.0, "auc_title": "AUC cosine",
          "auc_match": 0.5,
          "seconds": 1.0}


REFS = {"original": _row("original", 0, 90.0, 40.0, 0.55),
        "retrained": _row("retrained", 0, 60.0, 40.0, 0.80)}


def test_retrain_gap_prefers_the_run_closest_to_retraining():
  rows = [_row("m", 1e-4, 85.0, 39.0, 0.60),  # too little forgetting
          _row("m", 3e-4, 62.0, 37.0, 0.78),  # close to retrained
          _row("m", 1e-3, 5.0, 20.0, 0.99)]  # wrecked, AUC overshoots
  out = compare.select(rows, REFS, "retrain_gap")
  assert out["selected"]["m"]["setting"]["unlearn.learning_rate"] == 3e-4
  gap = (2.0 / 100 + 3.0 / 100 + 0.02) / 3
  assert out["selected"]["m"]["scores"]["retrain_gap"] == pytest.approx(gap)
  # The reference rule, 1/2 (Dr R@1 + AUC), takes the wrecked model's AUC.
  ref = compare.select(rows, REFS, "reference")
  assert ref["selected"]["m"]["setting"]["unlearn.learning_rate"] == 1e-3
  assert ref["selected"]["m"]["scores"]["reference"] == pytest.approx(
      0.5 * (0.20 + 0.99))


def test_unknown_rule_is_refused(tmp_path):
  with pytest.raises(ValueError, match="unknown selection rule"):
    compare.compare(None, str(tmp_path), ["m"], rule="best_test")

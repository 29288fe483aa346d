"""Setting selection of the method comparison, by hand-made rows."""

import pytest

from mmul_jax import errors
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


def _shadow(model, distance, leaks=()):
  return {"model": model, "distance": distance, "worst": "match",
          "ulira_auc": 0.5 + distance, "ks_df_worst": 0.01,
          "leaks": list(leaks)}


def test_shadow_columns_and_ranking_by_ulira():
  rows = [_row("a", 1e-4, 62.0, 37.0, 0.78), _row("b", 1e-4, 85.0, 39.0,
                                                   0.60)]
  out = compare.select(rows, {k: dict(v) for k, v in REFS.items()},
                       "retrain_gap")
  assert list(out["selected"]) == ["a", "b"]
  out["selected"]["a"]["shadow"] = _shadow("a", 0.3, ["match"])
  out["selected"]["b"]["shadow"] = _shadow("b", 0.1)
  out["references"]["original"]["shadow"] = _shadow("original", 0.4,
                                                    ["match"])
  out["shadow"] = {"num_models": 8}
  compare.rank(out, "selection")
  assert out["order"] == ["a", "b"]
  compare.rank(out, "ulira")
  assert out["order"] == ["b", "a"]
  table = compare.markdown_table(out).splitlines()
  assert "U-LiRA AUC (worst rep, K=8)" in table[0]
  retrained = next(ln for ln in table if ln.startswith("| retrained"))
  assert retrained.endswith("| - | - | - |")  # the reference itself
  assert table[-2].startswith("| b ") and "0.600 (match)" in table[-2]
  assert table[-1].endswith("| 0.01 | match |")


def test_shadow_audit_needs_three_models(tmp_path):
  with pytest.raises(errors.ConfigError, match="shadow_models >= 3"):
    compare.compare(None, str(tmp_path), ["m"], shadow_models=2)
  with pytest.raises(errors.ConfigError, match="ranking by U-LiRA"):
    compare.compare(None, str(tmp_path), ["m"], rank_by="ulira")


def test_robustness_columns_show_each_attacks_recovery():
  rows = [_row("a", 1e-4, 62.0, 37.0, 0.78)]
  out = compare.select(rows, {k: dict(v) for k, v in REFS.items()},
                       "retrain_gap")
  out["selected"]["a"]["robustness"] = {"int4": 0.25, "relearn_forget_50":
                                        0.875}
  out["references"]["original"]["robustness"] = {"int4": 0.5,
                                                 "relearn_forget_50": 0.125}
  out["robustness"] = {"attacks": ["int4", "relearn_forget_50"]}
  compare.rank(out, "selection")
  table = compare.markdown_table(out).splitlines()
  assert "| R int4 | R relearn_forget_50 |" in table[0]
  assert table[-1].endswith("| 0.25 | 0.88 |")
  original = next(ln for ln in table if ln.startswith("| original"))
  assert original.endswith("| 0.50 | 0.12 |")
  retrained = next(ln for ln in table if ln.startswith("| retrained"))
  assert retrained.endswith("| - | - |")  # the reference itself

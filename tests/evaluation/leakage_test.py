"""The leakage audit's ranking on synthetic scores whose answer is known:
a method scored like the retrained models ranks first, one that leaves
the deleted examples' scores where the original had them ranks last, and
its leaking representation is the one named."""

import numpy as np
import pytest

from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import leakage

REPS = (example_scores.Representation("cosine", "pair cosine", "score"),
        example_scores.Representation("loss", "loss", "loss"))


def _base(rng, k, n=60):
  """Per-example means shared by every model, with per-seed noise; the
  loss falls as the cosine rises (a member looks higher on one, lower on
  the other)."""
  base = {s: rng.normal(size=n) for s in leakage.SETS}
  out = {}
  for s in leakage.SETS:
    cos = base[s] + 0.3 * rng.normal(size=(k, n))
    out[s] = {"cosine": cos, "loss": -cos + 0.1 * rng.normal(size=(k, n))}
  return out


def test_ranking_orders_by_worst_representation():
  k = 6
  models = {"original": 2.0, "retrained": 0.0, "close": 0.0, "half": 1.0}
  scores = {}
  for i, (m, shift) in enumerate(models.items()):
    # The same per-example means for every model: seed the base alike.
    base = _base(np.random.default_rng(0), k)
    noise = np.random.default_rng(i + 1)
    scores[m] = {s: {n: a + (shift if s == "df" and n == "cosine" else 0.0)
                     + 0.3 * noise.normal(size=a.shape)
                     for n, a in names.items()}
                 for s, names in base.items()}
    # "half" leaks on cosine only; its loss is the retrained models'.
    if m == "half":
      scores[m]["df"]["loss"] = scores["retrained"]["df"]["loss"] + (
          0.3 * noise.normal(size=(k, 60)))
  audited = leakage.audit(REPS, scores, auc_num_samples=1)
  ranked = leakage.ranking(audited)
  assert [r["model"] for r in ranked] == ["close", "half", "original"]
  half = next(r for r in ranked if r["model"] == "half")
  assert half["worst"] == "cosine"
  assert half["leaks"] == ["cosine"]
  assert half["ulira_auc"] > leakage.LEAK_AUC
  close = ranked[0]
  assert close["distance"] == pytest.approx(
      max(abs(audited["close"][r.name]["ulira"]["auc"] - 0.5)
          for r in REPS))
  assert close["leaks"] == []
  fold = audited["original"]["cosine"]["ulira"]["fold_auc"]
  assert len(fold) == k
  assert ranked[-1]["ulira_auc_mean"] == pytest.approx(np.mean(fold))
  table = leakage.leaderboard_markdown(audited, {r.name: r.title
                                                 for r in REPS})
  lines = table.splitlines()
  assert "| 1 | close |" in lines[2]
  assert "pair cosine" in lines[-1]  # the original leaks by its cosine


def test_dr_relative_ulira_removes_a_model_wide_shift():
  k, n = 6, 80
  rng = np.random.default_rng(3)
  base = {s: rng.normal(size=n) for s in leakage.SETS}

  def model(seed, shift):
    noise = np.random.default_rng(seed)
    return {s: {"cosine": base[s] + shift + 0.3 * noise.normal(size=(k, n)),
                "loss": -base[s] - shift + 0.3 * noise.normal(size=(k, n))}
            for s in leakage.SETS}

  # "shifted" is the retrained models moved by 1 on every set alike: the
  # raw test tells them apart; relative to its own Dr, nothing is left.
  scores = {"original": model(1, 2.0), "retrained": model(2, 0.0),
            "shifted": model(3, 1.0)}
  audited = leakage.audit(REPS, scores, auc_num_samples=1)
  for rep in ("cosine", "loss"):
    row = audited["shifted"][rep]
    assert row["ulira"]["auc"] > 0.95, rep
    assert abs(row["ulira_dr_relative"]["auc"] - 0.5) < 0.1, rep

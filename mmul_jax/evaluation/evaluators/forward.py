"""What a model's forward passes over the evaluation sets give every
metric family: one `Forward` record per evaluation, computed once."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple


class Options(NamedTuple):
  """`config.eval`'s settings the metric families read."""

  recall_ks: tuple[int, ...] = (1, 5, 10)
  rerank_k: int = 0
  auc_num_samples: int = 5
  auc_seed: int = 0
  # Generation: the test split is knowledge to keep (TOFU's real authors
  # and world facts), so model utility reads it beside Dr.
  utility_test: bool = False


@dataclasses.dataclass
class Forward:
  """One model's outputs on the "test", "df" and "dr" sets.

  kind: "retrieval" (a dual encoder: `outputs[set]` holds the encodings
    `img`, `txt`, the similarities `sim` and the aligned pairs' `match`) or
    "classification" (a class head: `outputs[set]` holds the classifier's
    outputs and `log_p_true`, `correct`, `entropy`, `logits`).
  sets: the `pipeline.PairSet`s.
  pair_scores: `{score: {set: (N,) array}}`, each pair's score by which
    Df is told from Dr ("cosine", "match"; "p_true").
  params, model: the model's parameters and its jitted helper
    (`evaluate.Embedder` or `classification.Classifier`), for evaluators
    that need more passes (re-ranking).
  options: `Options` (recall cut-offs, re-ranking depth, AUC samples and
    seed).
  scores: where per-example scores go (`example_scores`), or None.
  """

  kind: str
  sets: dict
  outputs: dict
  pair_scores: dict
  params: Any
  model: Any
  options: Options
  scores: dict | None = None

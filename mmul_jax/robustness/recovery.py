"""How much an attack (relearning, quantisation) brings back, relative to
what it does to the retrained model, which had nothing to recover.

For a metric m measured before and after the attack, Δ = m_after -
m_before per model, and the score

    R = 1 - |Δ_unlearned - Δ_retrained| / (|Δ_unlearned| + |Δ_retrained|)

is 1 when the attack moves the unlearned model as it moves the retrained
one (nothing recovered beyond what the attack does to any model) and 0
when only one of them moves (or they move in opposite directions with
equal size). Both unmoved: 1. R is scale-free and unsigned: where the
retrained model does not move, any change of the unlearned model scores
0, whichever way it goes and however small; report the changes beside
it."""

from __future__ import annotations

import math


def delta(before: float, after: float) -> float:
  return float(after) - float(before)


def recovery_score(delta_unlearned: float, delta_retrained: float) -> float:
  """R above; NaN when either change is NaN."""
  du, dr = float(delta_unlearned), float(delta_retrained)
  if math.isnan(du) or math.isnan(dr):
    return float("nan")
  total = abs(du) + abs(dr)
  if total == 0.0:
    return 1.0
  return 1.0 - abs(du - dr) / total

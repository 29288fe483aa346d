"""The Fréchet distance between two sets of features, each taken as a
Gaussian (FID's statistic, Heusel et al. 2017): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ −
2 (Σ₁ Σ₂)^½). With the project's own image encoder's features instead of
Inception's, it compares generated and real images of the same data; the
numbers are comparable within one encoder only."""

from __future__ import annotations

import numpy as np
import scipy.linalg


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """`(mean, covariance)` of features `(N, D)` in float64 (N ≥ 2)."""
  x = np.asarray(features, np.float64)
  if x.ndim != 2 or len(x) < 2:
    raise ValueError(f"need features (N >= 2, D), got shape {x.shape}")
  return x.mean(0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
  """The Fréchet distance between feature sets `a` and `b` `(N, D)`."""
  (mu1, s1), (mu2, s2) = statistics(a), statistics(b)
  root = scipy.linalg.sqrtm(s1 @ s2)
  if not np.isfinite(root).all():  # singular product: FID's offset
    eps = 1e-6 * np.eye(len(s1))
    root = scipy.linalg.sqrtm((s1 + eps) @ (s2 + eps))
  trace = np.trace(s1) + np.trace(s2) - 2.0 * np.trace(root.real)
  return float(((mu1 - mu2) ** 2).sum() + max(trace, 0.0))

"""What the U-LiRA tests compute by hand: a Mann-Whitney AUC and a
Gaussian log density, independent of the code under test."""

import math

import numpy as np


def auc(pos, neg):
  """Mann-Whitney AUC by counting pairs (ties count half)."""
  pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
  return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def logpdf(x, mu, sd):
  return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(
      2 * math.pi)

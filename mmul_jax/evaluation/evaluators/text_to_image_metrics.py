"""A text-to-image model's metrics per set: the mean denoising loss at
fixed timesteps and noise (`denoise_loss`) and how much of each drawn
pair's own image the image generated from its caption reproduces, by the
dataset's judge (`reproduction`, %; the shapes items' colour code)."""

from __future__ import annotations

import numpy as np

KINDS = ("text_to_image",)


def metrics(run) -> dict:
  out = {}
  for name, o in run.outputs.items():
    out[name] = {"denoise_loss": float(np.mean(o["loss"]))}
    if "reproduction" in o:
      out[name]["reproduction"] = 100.0 * float(np.mean(o["reproduction"]))
  return out

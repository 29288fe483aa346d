"""A text-to-image model's metrics per set: the mean denoising loss at
fixed timesteps and noise (`denoise_loss`) and how much of each drawn
pair's own image the image generated from its caption reproduces, by the
dataset's judge (`reproduction`, %; the shapes items' colour code); the
judge models' (`evaluation.judges`) share of those images in their
prompt's class (`judge_accuracy`, %; on the set's real images,
`judge_real_accuracy`), mean image-text cosine (`cosine`)
and Fréchet distance to the set's real images (`frechet`). A metric the
run has no judge for is NaN, so every run reports the same keys."""

from __future__ import annotations

import numpy as np

KINDS = ("text_to_image",)


def metrics(run) -> dict:
  out = {}
  nan = float("nan")
  for name, o in run.outputs.items():
    mean = lambda key, scale=1.0: (scale * float(np.mean(o[key]))
                                   if key in o else nan)
    out[name] = {"denoise_loss": float(np.mean(o["loss"])),
                 "reproduction": mean("reproduction", 100.0),
                 "judge_accuracy": mean("judge_correct", 100.0),
                 "judge_real_accuracy": mean("judge_real_correct", 100.0),
                 "cosine": mean("cosine"),
                 "frechet": float(o.get("frechet", nan))}
  return out

"""Each set's per-example scores (`example_scores`: the representations
the leakage audit and U-LiRA compare), put in `run.scores` from the same
forward passes; no metrics."""

from __future__ import annotations

from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import generation
from mmul_jax.evaluation import text_to_image

KINDS = ("retrieval", "classification", "generation", "text_to_image")


def metrics(run) -> dict:
  if run.scores is None:
    return {}
  for name, s in run.sets.items():
    o = run.outputs[name]
    if run.kind == "generation":
      run.scores[name] = generation.example_scores(o)
    elif run.kind == "text_to_image":
      run.scores[name] = text_to_image.example_scores(o)
    elif run.kind == "retrieval":
      run.scores[name] = example_scores.retrieval_set(
          o["img"], o["txt"], o["match"], s.caption_owner)
    else:
      run.scores[name] = example_scores.classification_set(o["outputs"],
                                                           s.labels)
  return {}

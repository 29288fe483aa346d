"""Pluggable metric families, in the style of big_vision's evaluators.

A model's forward passes over the evaluation sets run once (`Forward`);
each metric family reads them and returns metrics by nested name, which
land flat in the one results record (`evaluation.results`). A task names
its families (`Task.evals`); `config.eval.metrics` overrides them. A family
is a module with `KINDS` (the forward kinds it reads) and
`metrics(run: Forward) -> dict`; a new one is its file plus one line in
`EVALUATORS`.
"""

from __future__ import annotations

from typing import Sequence

from mmul_jax import errors
from mmul_jax.evaluation import results as results_lib
from mmul_jax.evaluation.evaluators import accuracy
from mmul_jax.evaluation.evaluators import deletion_auc
from mmul_jax.evaluation.evaluators import generation_metrics
from mmul_jax.evaluation.evaluators import mubench_metrics
from mmul_jax.evaluation.evaluators import per_example
from mmul_jax.evaluation.evaluators import recall
from mmul_jax.evaluation.evaluators import text_to_image_metrics
from mmul_jax.evaluation.evaluators.forward import Forward
from mmul_jax.evaluation.evaluators.forward import Options

EVALUATORS = {
    "recall": recall,
    "accuracy": accuracy,
    "deletion_auc": deletion_auc,
    "mubench": mubench_metrics,
    "example_scores": per_example,
    "generation": generation_metrics,
    "text_to_image": text_to_image_metrics,
}


def check(names: Sequence[str], kind: str) -> None:
  """One `ConfigError` for a family that is unknown or cannot read `kind`'s
  forward passes.

  Args:
    names: metric family names, keys of `EVALUATORS` (`config.eval.metrics`
      or `config.eval.extra_metrics`).
    kind: the forward kind they would read, "retrieval" or
      "classification" (`Forward.kind`, `Task.outputs`).

  Raises:
    ConfigError: the first family that is unknown or does not read `kind`.
  """
  for name in names:
    if name not in EVALUATORS:
      raise errors.ConfigError(
          f"eval.metrics: unknown metric family {name!r}; use some of "
          f"{sorted(EVALUATORS)}")
    if kind not in EVALUATORS[name].KINDS:
      raise errors.ConfigError(
          f"eval.metrics: {name!r} reads {' or '.join(EVALUATORS[name].KINDS)}"
          f" outputs, not {kind}")


def run(names: Sequence[str], forward: Forward) -> dict:
  """The flat metrics of the families `names` on `forward`, and each set's
  per-example scores into `forward.scores` when it is a dict.

  Args:
    names: metric family names, keys of `EVALUATORS`; "example_scores"
      runs whether named or not.
    forward: one model's forward passes over the evaluation sets.

  Returns:
    A flat dict of every family's metrics by slash-joined name (e.g.
    "test/itc/r1_mean", "auc/cosine/mean"; `results.flatten` of their
    nested dicts).

  Raises:
    ConfigError: a family is unknown or cannot read `forward.kind`.
    ValueError: two families write the same metric name.
  """
  check(names, forward.kind)
  # Per-example scores come from every evaluation that asks for them.
  families = [*names] + ["example_scores"] * ("example_scores" not in names)
  out = {}
  for name in families:
    flat = results_lib.flatten(EVALUATORS[name].metrics(forward))
    twice = set(flat) & set(out)
    if twice:
      raise ValueError(f"metric family {name!r} writes {sorted(twice)}, "
                       "which another family already wrote")
    out.update(flat)
  return out


__all__ = ["EVALUATORS", "Forward", "Options", "check", "run"]

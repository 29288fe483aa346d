"""A metric family is its file plus one registry line: a toy family,
registered here and asked for with `eval.extra_metrics`, lands in the
results record beside the task's own; unknown or mismatched families are
one clear error."""

import math

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.evaluation import evaluators
from mmul_jax.unlearn import run as run_lib


class MedianPairScore:
  """The toy family's module: each set's median pair score."""

  KINDS = ("retrieval", "classification")

  @staticmethod
  def metrics(run):
    return {name: {"toy": {score: float(np.median(values[name]))
                           for score, values in run.pair_scores.items()}}
            for name in run.sets}


def test_a_registered_family_lands_in_the_results(monkeypatch, tmp_path,
                                                  tiny_config, data_dir,
                                                  tiny_builder):
  del tiny_builder
  monkeypatch.setitem(evaluators.EVALUATORS, "toy", MedianPairScore)
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.eval.extra_metrics = ("toy",)
  c.eval.rerank_k = 0
  c.tensorboard = False
  results = run_lib.run(c, str(tmp_path / "run"))
  for model in results.models.values():
    metrics = model.metrics
    for split in ("test", "df", "dr"):
      for score in ("cosine", "match"):
        assert math.isfinite(metrics[f"{split}/toy/{score}"])
    # The task's own families still ran.
    assert "auc/cosine/mean" in metrics and "test/itc/r1_mean" in metrics


def test_forward_passes_run_once_for_every_family():
  calls = []

  class Counting:
    KINDS = ("classification",)

    @staticmethod
    def metrics(run):
      calls.append(run)
      return {"count": len(calls)}

  forward = evaluators.Forward(
      kind="classification", sets={}, outputs={}, pair_scores={},
      params=None, model=None, options=evaluators.Options())
  evaluators.EVALUATORS["_count"] = Counting
  try:
    out = evaluators.run(["_count"], forward)
  finally:
    del evaluators.EVALUATORS["_count"]
  assert out == {"count": 1} and calls == [forward]


@pytest.mark.parametrize("families,message", [
    (("recal",), "unknown metric family 'recal'"),
    (("recall",), "'recall' reads retrieval outputs, not classification"),
])
def test_a_bad_family_is_one_config_error(tiny_config, families, message):
  c = tiny_config.copy_and_resolve_references()
  c.data.name = "shapes_ve"
  c.eval.extra_metrics = families
  with pytest.raises(errors.ConfigError, match=message):
    config_schema.validate(c)

"""Worst-case deletion sets: the per-unit membership score (a mean over
each unit's pairs, probabilities as logits, losses negated), a memorised
Df asked for without the original refused, and (slow suite) a run whose
Df is the units the original scores highest, checked against a ranking
computed here from the original's pair cosines."""

import json
import types

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.data.core import deletion_policy
from mmul_jax.evaluation import example_scores
from mmul_jax.unlearn import worst_case


def test_per_unit_scores_average_each_units_examples():
  pairs = types.SimpleNamespace(image_ids=np.asarray([7, 8, 9]),
                                caption_owner=np.asarray([0, 0, 2, 1, 2]))
  x = np.asarray([0.2, 0.4, 0.9, 0.5, 0.7])
  rep = example_scores.Representation("p", "p", "probability")
  logit = np.log(x / (1 - x))
  want = [(logit[0] + logit[1]) / 2, logit[3], (logit[2] + logit[4]) / 2]
  np.testing.assert_allclose(worst_case._per_unit({"p": x}, pairs, rep),
                             want)
  loss = example_scores.Representation("l", "l", "loss")
  one = types.SimpleNamespace(image_ids=np.arange(3))
  np.testing.assert_allclose(
      worst_case._per_unit({"l": np.asarray([1.0, 2.0, 3.0])}, one, loss),
      [-1.0, -2.0, -3.0])
  with pytest.raises(ValueError, match="4 scores for 3 units"):
    worst_case._per_unit({"l": np.zeros(4)}, one, loss)


def test_a_memorised_set_without_the_original_is_refused(tmp_path):
  c = config_schema.default_config()
  c.deletion.strategy = "memorised"
  with pytest.raises(errors.ConfigError, match="original model"):
    deletion_policy.deletion_set(c.deletion, None, "x", str(tmp_path))


@pytest.mark.slow
def test_a_memorised_run_forgets_the_units_the_original_scores_highest(
    tmp_path, tiny_config, data_dir):
  from mmul_jax import experiment as experiment_lib
  from mmul_jax.data.core import pipeline
  from mmul_jax.unlearn import phases
  from mmul_jax.unlearn import run

  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.method.name = "finetune"
  c.deletion.strategy = "memorised"
  results = run.run(c, str(tmp_path))
  exp = worst_case.setup(c, str(tmp_path))
  assert exp.deletion.source == "memorised"
  assert "memorised" in exp.deletion.tag
  # The ranking, computed here: each image's mean caption cosine under
  # the original.
  uniform = c.copy_and_resolve_references()
  uniform.deletion.strategy = "uniform"
  plain = experiment_lib.setup(uniform, str(tmp_path))
  original, _ = phases.train_model(plain, "original")
  pairs = pipeline.load_pairs(plain.train, plain.train.image_ids,
                              tok=plain.tokenizer,
                              shape=plain.input_shape(), layout=plain.spec)
  s = plain.task.example_scorer(plain.model, c)(original,
                                                {"train": pairs})["train"]
  per_image = {}
  for owner, cos in zip(pairs.caption_owner, s["cosine"]):
    per_image.setdefault(int(pairs.image_ids[owner]), []).append(float(cos))
  ranked = sorted(per_image, key=lambda i: -np.mean(per_image[i]))
  count = len(exp.deletion.forget_ids)
  assert count == round(c.deletion.ratio / 100 * len(plain.train))
  assert set(exp.deletion.forget_ids.tolist()) == set(ranked[:count])
  assert results.to_json()["deletion"]["num_forget_units"] == count
  record = json.loads((tmp_path / "deletion" / f"{exp.deletion.tag}"
                       "_memorised.json").read_text())
  assert record["representation"] == "cosine"
  assert sorted(record["units"]) == sorted(ranked[:count])
  assert min(record["z"]) >= record["z_quantiles_all_units"][2]

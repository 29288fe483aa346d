"""Per-example scores: the member-score orientation of each kind, and the
scorers of the retrieval and classification tasks on their models."""

import numpy as np
import pytest

from mmul_jax import experiment
from mmul_jax.evaluation import example_scores as es


def test_self_similarity_and_member_scores():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
  want = [x @ y / np.linalg.norm(x) / np.linalg.norm(y) for x, y in zip(a, b)]
  np.testing.assert_allclose(es.self_similarity(a, b), want)
  scores = {"v": a, "loss": np.arange(5.0), "p": np.linspace(0, 1, 5)}
  vec = es.Representation("v", "v", "vector")
  np.testing.assert_allclose(es.member_score(vec, scores, {"v": a}), 1.0)
  np.testing.assert_allclose(
      es.member_score(es.Representation("loss", "l", "loss"), scores, None),
      -np.arange(5.0))
  with pytest.raises(ValueError, match="original"):
    es.member_score(vec, scores, None)


@pytest.mark.parametrize("name", ["shapes_captions", "shapes_ve",
                                  "shapes_cifar"])
def test_task_scorers_give_every_representation(tmp_path, tiny_config,
                                                data_dir, name):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = name
  c.method.name = "finetune"
  exp = experiment.setup(c, str(tmp_path))
  params = experiment.init_params(exp, 0)
  scores = exp.task.example_scorer(exp.model, c)(params, exp.eval_sets)
  for split, s in exp.eval_sets.items():
    got = scores[split]
    for rep in exp.task.representations:
      x = got[rep.name]
      rows = (len(s.image_ids) if rep.name == "image" and name ==
              "shapes_captions" else len(s.caption_owner))
      assert x.shape[0] == rows, (split, rep.name, x.shape)
      assert np.all(np.isfinite(x))
    if "p_true" in got:
      np.testing.assert_allclose(got["p_true"], np.exp(-got["loss"]),
                                 rtol=1e-6)
      assert got["logits"].shape[1] == exp.task.num_classes

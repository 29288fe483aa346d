"""Every general method on the unimodal classifiers (image, text, audio,
video): its plan builds and its loss has finite, non-zero gradients; MMUL
is refused."""

import itertools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import methods
from mmul_jax import models
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.evaluation import results as results_lib

B, C = 6, 4
# By default the methods whose terms read a unimodal batch differently
# (wrong labels, distillation and NPO inputs); the rest only call the
# task loss and run in the slow suite (and end to end there).
DEFAULT = ("delete", "npo", "randlabel", "scrub")
GENERAL = [pytest.param(m, marks=() if m in DEFAULT else pytest.mark.slow)
           for m in sorted(set(methods.METHODS)
                           - {"mmul", "mmul_plus", "retrain"})
           if methods.get(m).runs_on("unimodal_classification")]


def _task(modality):
  spec = datasets.DatasetSpec(
      task="unimodal_classification", modality=modality, inputs=modality,
      image_keys=(), id_key="example_id",
      labels=tuple(map(str, range(C))), sample_rate=8000)
  return tasks.for_dataset(spec)


def _batch(seed, modality, ids):
  r = np.random.default_rng(seed)
  if modality == "image":
    x = r.normal(size=(B, 32, 32, 3)).astype(np.float32)
  elif modality == "audio":
    x = r.uniform(-0.5, 0.5, (B, 4000)).astype(np.float32)
  elif modality == "video":
    x = r.normal(size=(B, 8, 32, 32, 3)).astype(np.float32)
  else:
    x = r.integers(4, 200, (B, 32)).astype(np.int32)
    x[:, 9] = 2  # end of text
  return {"input": x, "label": r.integers(0, C, B).astype(np.int32),
          "image_id": np.asarray(ids)}


# The image classifier's tower is the dual encoder's (tested there) and
# runs end to end in tests/unimodal_run_test.py; its method sweep is slow.
@pytest.fixture(scope="module",
                params=["text", *(pytest.param(m, marks=pytest.mark.slow)
                                  for m in ("image", "audio", "video"))])
def setup(request):
  modality = request.param
  task = _task(modality)
  config = config_schema.default_config()
  model = task.build_model(config.model)
  init = lambda seed: task.init_params(model, config, seed)
  return modality, task, model, init(0), init, config


def test_classifier_outputs_and_loss(setup):
  modality, task, model, params, _, _ = setup
  b = _batch(1, modality, range(B))
  out = model.apply(params, *task.model_inputs(b), method=model.classify)
  assert out["class_logits"].shape == (B, C)
  assert out["features"].shape == (B, models.preset("tiny")["embed_dim"])
  per_example, aux = task.training_loss(model)(params, b, jax.random.key(0))
  logp = jax.nn.log_softmax(out["class_logits"])
  np.testing.assert_allclose(per_example, -logp[np.arange(B), b["label"]],
                             rtol=1e-5)
  assert 0 <= float(aux["acc"]) <= 1
  # Only the tower the modality needs is built.
  towers = set(params["params"])
  assert towers == {"txt" if modality == "text" else "img", "cls_head"}


def test_mmul_is_refused_with_what_to_use(setup):
  _, task, model, *_ = setup
  assert not task.supports_mmul
  with pytest.raises(errors.ConfigError, match="two modalities"):
    task.mmul_terms(model)
  for name in ("mmul", "mmul_plus"):  # refused before any compute
    m = methods.get(name)
    assert any("two modalities" in p
               for p in m.check_task(
                   ml_collections.ConfigDict(dict(m.defaults)), task)), name


@pytest.mark.parametrize("name", GENERAL)
def test_general_methods_on_a_unimodal_classifier(setup, name):
  modality, task, model, params, init, config = setup
  config = config.copy_and_resolve_references()
  config.method.name = name
  hparams = dict(config.method.get(name, {}))
  if "target" in hparams:
    hparams["target"] = "labels"
  batch = {"df": _batch(6, modality, range(B)),
           "dr": _batch(7, modality, range(10, 10 + B))}
  ctx = methods.Context(
      task=task, model=model, original=params, config=config,
      hparams=ml_collections.ConfigDict(hparams), init_params=init,
      batches=lambda part: itertools.repeat(batch[part]),
      num_pairs={"df": B, "dr": B})
  plan = methods.build(ctx)
  frozen = {"original": params, **plan.frozen}
  loss = plan.loss

  def value(p):
    v, _, _ = loss.apply(loss.init(p), p, frozen, batch,
                         rng=jax.random.key(1))
    return v

  v, grads = jax.jit(jax.value_and_grad(value))(params)
  assert np.isfinite(float(v))
  norm = float(jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads))))
  assert np.isfinite(norm)
  if plan.optimizer == "none":  # only perturbs (Fisher, DTD without descent)
    assert plan.after and norm == 0
    if name == "fisher":  # its noise is scaled by Dr's gradients here
      assert 0 < plan.info["mean_stddev"] < np.inf
  else:
    assert norm > 0


def test_the_table_reports_the_out_of_distribution_set():
  task = tasks.for_dataset(datasets.DATASETS["imdb"])
  ev = lambda acc: {
      "test/accuracy": acc, "df/accuracy": acc, "dr/accuracy": acc,
      "ood/accuracy": acc - 10, "auc/p_true/mean": 0.5,
      "auc/p_true/std": 0.0, "mubench/knowledge_gap": 0.5,
      "mubench/zrf": 0.9, "mubench/mia/target_non_member_rate": 0.4,
      "mubench/mia/target_auc": 0.5}
  evals = {"original": ev(90.0), "retrained": ev(88.0), "npo": ev(80.0)}
  results = results_lib.Results(
      task=task.name, dataset="imdb", method="npo",
      deletion=results_lib.Deletion("unit", 5.0, 0, 4, 4, 76, "ab" * 32),
      models={k: results_lib.ModelResults(v, 0.5, None, 1.0)
              for k, v in evals.items()},
      summary=task.summary(evals, "npo"), devices=[], total_seconds=1.0,
      config={})
  assert ("Out-of-distribution test set (rotten_tomatoes) accuracy in %: "
          "original 80.0, retrained 78.0, npo 70.0.") in task.table(results)

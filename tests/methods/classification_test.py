"""Classification models (NLVR2, SNLI-VE): the class head, the task loss,
MMUL's classification terms (spec §1.4 b, c) and the methods on them."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import losses
from mmul_jax import methods
from mmul_jax import models
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.evaluation import results as results_lib
from mmul_jax.tasks import classification_terms

B = 6


def _task(num_classes, num_images):
  spec = datasets.DatasetSpec(
      task="classification", labels=tuple(map(str, range(num_classes))),
      image_keys=tuple(f"image{i}" for i in range(num_images)))
  return tasks.for_dataset(spec)


def _model(num_classes, num_images):
  return _task(num_classes, num_images).build_model(models.preset("tiny"))


def _batch(rng, num_images, num_classes, ids=None):
  r = np.random.default_rng(rng)
  text = r.integers(4, 200, (B, 32)).astype(np.int32)
  text[:, 9] = 2  # end of text
  return {"image": r.normal(size=(B, num_images, 32, 32, 3)).astype(
              np.float32),
          "text": text, "label": r.integers(0, num_classes, B),
          "image_id": np.arange(B) if ids is None else np.asarray(ids)}


@pytest.fixture(scope="module", params=[(2, 2), (3, 1)],
                ids=["nlvr2", "ve"])
def task(request):
  num_classes, num_images = request.param
  model = _model(num_classes, num_images)
  b = _batch(0, num_images, num_classes)
  params = model.init(jax.random.key(0), b["image"], b["text"],
                      method=model.classify)
  return model, params, num_classes, num_images


def test_class_head_and_cross_entropy(task):
  model, params, c, k = task
  b = _batch(1, k, c)
  out = model.apply(params, b["image"], b["text"], method=model.classify)
  assert out["class_logits"].shape == (B, c)
  assert out["image_tokens"].shape[:2] == (B, k)
  per_example, aux = classification_terms.training_loss(model)(
      params, b, jax.random.key(0))
  logp = jax.nn.log_softmax(out["class_logits"])
  np.testing.assert_allclose(per_example,
                             -logp[np.arange(B), b["label"]], rtol=1e-5)
  # The image index embedding tells the fusion which image is which.
  if k == 2:
    swapped = model.apply(params, b["image"][:, ::-1], b["text"],
                          method=model.classify)["class_logits"]
    assert not np.allclose(swapped, out["class_logits"])


def test_mmul_terms_match_their_definitions(task):
  model, params, c, k = task
  batch = {"df": _batch(2, k, c), "dr": _batch(3, k, c)}
  rng = jax.random.key(5)
  # At θ = θ₀ (no dropout) the retention terms vanish ...
  for term, part in ((classification_terms.unimodal_retention(model), "df"),
                     (classification_terms.multimodal_retention(model),
                      "dr")):
    value, _, _ = term.apply(term.init(params), params,
                             {"original": params}, batch[part], rng=rng)
    assert float(value) == pytest.approx(0.0, abs=1e-10)
  # ... and modality decoupling compares each deleted example with the
  # original's [CLS] on its images and another unit's sentence.
  md = classification_terms.modality_decoupling(model)
  value, aux, _ = md.apply(md.init(params), params, {"original": params},
                           batch, rng=rng)
  assert float(aux["derangement_valid"]) == 1.0
  perm, _ = losses.derangement(jax.random.split(rng)[0],
                               jnp.asarray(batch["df"]["image_id"]))
  assert not np.any(np.asarray(perm) == np.arange(B))
  df = batch["df"]
  cls = lambda text: model.apply(params, df["image"], text,
                                 method=model.classify)["fusion_cls"]
  want = np.mean((cls(df["text"]) - cls(df["text"][np.asarray(perm)])) ** 2)
  assert float(value) == pytest.approx(float(want), rel=1e-4)


METHOD_SETTINGS = {"mmul": {}, "mmul_plus": {"retain": "scores"},
                   "finetune": {}, "neggrad": {},
                   "neggrad_plus": {}, "l1_sparse": {},
                   "randlabel": {"target": "labels"}, "scrub": {},
                   "bad_teaching": {}, "delete": {}, "npo": {}}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow)
    if n in ("bad_teaching", "scrub", "delete", "neggrad_plus") else n
    for n in sorted(METHOD_SETTINGS)])
def test_methods_on_a_classification_model(name):
  # The VE-shaped model (one image) keeps this quick; the terms above cover
  # both image counts.
  c, k = 3, 1
  model = _model(c, k)
  b = _batch(0, k, c)
  params = model.init(jax.random.key(0), b["image"], b["text"],
                      method=model.classify)
  config = config_schema.default_config()
  config.method.name = name
  hparams = dict(config.method.get(name, {}), **METHOD_SETTINGS[name])
  batch = {"df": _batch(6, k, c), "dr": _batch(7, k, c, ids=np.arange(
      10, 10 + B))}
  ctx = methods.Context(
      task=_task(c, k), model=model, original=params, config=config,
      hparams=ml_collections.ConfigDict(hparams),
      init_params=lambda seed: model.init(
          jax.random.key(seed), batch["df"]["image"], batch["df"]["text"],
          method=model.classify),
      batches=None, num_pairs={"df": B, "dr": B})
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
  assert np.isfinite(norm) and norm > 0


def test_classification_task_reports_accuracy():
  """The task's summary, headline metrics, overall score and table read
  metrics by flat name (the end-to-end runs are in the slow suite)."""
  ev = lambda acc, auc: {
      "test/accuracy": acc, "df/accuracy": acc - 10, "dr/accuracy": acc,
      "auc/p_true/mean": auc, "auc/p_true/std": 0.01,
      "mubench/knowledge_gap": 0.5, "mubench/zrf": 0.9,
      "mubench/df_acc": 0.5, "mubench/df_chance": 0.5,
      "mubench/mia/target_non_member_rate": 0.4,
      "mubench/mia/target_auc": 0.5}
  evals = {"original": ev(70.0, 0.5), "retrained": ev(68.0, 0.6),
           "mmul": ev(69.0, 0.55)}
  task = _task(2, 2)
  summary = task.summary(evals, "mmul")
  assert summary["progress/auc/p_true"] == pytest.approx(0.5)
  assert summary["change/test/accuracy"] == pytest.approx(-1.0)
  assert task.headline_fractions(evals["mmul"])["test/accuracy"] == 0.69
  assert task.split_scores(evals["mmul"]) == {"test": 69.0, "df": 59.0,
                                              "dr": 69.0}
  assert 0 < task.overall_score(evals["mmul"], evals["original"],
                                max_dt_drop=0.2) <= 1
  results = results_lib.Results(
      task=task.name, dataset="d", method="mmul",
      deletion=results_lib.Deletion("pair", 5.0, 0, 4, 16, 76, "ab" * 32),
      models={k: results_lib.ModelResults(v, 0.5, None, 1.0)
              for k, v in evals.items()},
      summary=summary, devices=[], total_seconds=1.0, config={})
  table = task.table(results)
  assert "test acc" in table and "moved 50% of the way" in table

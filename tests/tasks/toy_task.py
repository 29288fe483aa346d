"""A task kind written outside the library, as a user would: a 2-class
task on the embedded scene pairs (is the sentence true of the two
scenes?), read by the class head alone. It has no `mmul_terms`, so MMUL
refuses it; every other method runs on it through the same loop.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax import models
from mmul_jax import tasks
from mmul_jax.evaluation import classification
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import report


class SceneTruth(tasks.Task):
  name = "toy_scene_truth"
  score = "accuracy"
  score_metric = "accuracy"
  aucs = ("auc/p_true",)
  headline = (tasks.Metric("test/accuracy", "truth acc", 100, "higher"),
              tasks.Metric("df/accuracy", "Df acc", 100),
              tasks.Metric("dr/accuracy", "Dr acc", 100),
              tasks.Metric("auc/p_true/mean", "AUC p(y)"))

  def build_model(self, model_config):
    return models.build(model_config, num_classes=2, num_images=2)

  def init_params(self, model, config, seed):
    c = config.model
    images = np.zeros((1, 2, c.image_size, c.image_size, 3), np.float32)
    text = np.zeros((1, c.context_length), np.int32)
    init = jax.jit(functools.partial(model.init, method=model.classify))
    return init(jax.random.key(seed), images, text)

  def training_loss(self, model, *, itm_weight=1.0, axis_name=None):
    def loss(params, batch, rng):
      logits = model.apply(params, batch["image"], batch["text"], train=True,
                           rngs={"dropout": rng},
                           method=model.classify)["class_logits"]
      log_p = jax.nn.log_softmax(logits)
      nll = -jnp.take_along_axis(log_p, batch["label"][:, None], 1)[:, 0]
      return nll, {"toy_nll": jnp.mean(nll)}
    return loss

  def logit_views(self, model, *, axis_name=None):
    return model.classify, lambda out, batch: {"truth": (
        out["class_logits"], jax.nn.one_hot(batch["label"], 2, dtype=bool))}

  def evaluator(self, model, config):
    clf = classification.Classifier(model, batch_size=config.eval.batch_size,
                                    mean=config.data.mean,
                                    std=config.data.std)
    return lambda params, sets, desc, scores=None: classification.evaluate(
        clf, params, sets, auc_num_samples=config.eval.auc_num_samples,
        auc_seed=config.eval.auc_seed, desc=desc, scores=scores)

  def overall_score(self, metrics, original, *, max_dt_drop):
    return mubench.harmonic_mean_score(
        metrics["test/accuracy"] / 100, original["test/accuracy"] / 100,
        metrics["mubench/df_acc"], 0.5, max_dt_drop=max_dt_drop)

  def table(self, results):
    columns = report.model_columns(
        ("truth acc", lambda m: f"{m['test/accuracy']:.1f}"))
    return "\n".join(report.render(columns, list(results.models.items())))

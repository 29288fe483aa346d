"""Classification over the fusion encoder (NLVR2, SNLI-VE and their
embedded variants): the dual encoder with a class head over the fusion of
an example's image(s) and its sentence."""

from __future__ import annotations

import functools

import jax
import numpy as np

from mmul_jax import models
from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import classification
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import report
from mmul_jax.tasks import base
from mmul_jax.tasks import classification_terms
from mmul_jax.tasks import mmul_plus_terms


class Classification(base.Task):
  """Cross-entropy training, accuracy evaluation, the Df-vs-Dr AUC by the
  probability of the true label."""

  name = "classification"
  score = "accuracy"
  score_metric = "accuracy"
  outputs = "classification"
  evals = classification.METRICS
  aucs = ("auc/p_true",)
  changes = ("test/accuracy",)
  representations = example_scores.CLASSIFICATION
  headline = (
      base.Metric("test/accuracy", "test acc", 100, "higher"),
      base.Metric("df/accuracy", "Df acc", 100),
      base.Metric("dr/accuracy", "Dr acc", 100),
      base.Metric("auc/p_true/mean", "AUC p(y)"),
      *base.MUBENCH_HEADLINE)

  @property
  def num_images(self) -> int:
    return len(self.spec.image_keys)

  def build_model(self, model_config):
    return models.build(model_config, num_classes=self.num_classes,
                        num_images=self.num_images)

  def init_params(self, model, config, seed: int):
    c = config.model
    images = np.zeros((1, self.num_images, c.image_size, c.image_size, 3),
                      np.float32)
    # The class head is reached through `classify`.
    init = jax.jit(functools.partial(model.init, method=model.classify))
    return init(jax.random.key(seed), images, base.zeros_text(c))

  def training_loss(self, model, *, itm_weight=1.0, axis_name=None):
    del itm_weight, axis_name  # no matching head, no in-batch negatives
    return classification_terms.training_loss(model)

  def mmul_terms(self, model, *, negative_source="df", axis_name=None):
    return base.MmulTerms(
        md=classification_terms.modality_decoupling(
            model, negative_source=negative_source, axis_name=axis_name),
        ukr=classification_terms.unimodal_retention(model),
        mkr=classification_terms.multimodal_retention(model))

  def mmul_plus_terms(self, model, *, negative_source="df", axis_name=None):
    """The paper's L_MD already decouples the fusion [CLS] here, so there
    is no separate "fusion" term; "answer" decouples the class
    distribution."""
    paper = self.mmul_terms(model, negative_source=negative_source,
                            axis_name=axis_name)
    share = mmul_plus_terms.classification_share(
        model, negative_source=negative_source, axis_name=axis_name)
    return mmul_plus_terms.PlusTerms(
        terms={"md": paper.md, "ukr": paper.ukr, "mkr": paper.mkr,
               "answer": mmul_plus_terms.answer_decoupling(share,
                                                           "class_logits"),
               "mkr_scores": mmul_plus_terms.score_retention(
                   model, "classify", "class_logits", cosine=False)},
        share=share)

  def logit_views(self, model, *, axis_name=None):
    del axis_name
    return model.classify, lambda out, batch: (
        classification_terms.classification_logits(out, batch["label"]))

  def classifier_layout(self):
    """How the evaluated sets' inputs become model inputs."""
    return pipeline.RETRIEVAL

  def _classifier(self, model, config):
    c = config
    return classification.Classifier(
        model, batch_size=c.eval.batch_size, mean=c.data.mean,
        std=c.data.std, layout=self.classifier_layout())

  def example_scorer(self, model, config):
    classifier = self._classifier(model, config)
    return lambda params, sets: example_scores.classification(
        classifier, params, sets)

  def evaluator(self, model, config):
    c = config
    classifier = self._classifier(model, config)
    return lambda params, sets, desc, scores=None: classification.evaluate(
        classifier, params, sets, desc=desc, scores=scores,
        auc_num_samples=c.eval.auc_num_samples, auc_seed=c.eval.auc_seed,
        metrics=self.evals + tuple(c.eval.extra_metrics))

  def overall_score(self, metrics, original, *, max_dt_drop):
    """Test accuracy against the original's; Df chance 1/classes."""
    return mubench.harmonic_mean_score(
        metrics["test/accuracy"] / 100.0, original["test/accuracy"] / 100.0,
        metrics["mubench/df_acc"], metrics["mubench/df_chance"],
        max_dt_drop=max_dt_drop)

  def table(self, results):
    mb = lambda m, key: f"{m[f'mubench/{key}']:.3f}"
    columns = report.model_columns(
        ("test acc", lambda m: f"{m['test/accuracy']:.1f}"),
        ("Df acc", lambda m: f"{m['df/accuracy']:.1f}"),
        ("Dr acc", lambda m: f"{m['dr/accuracy']:.1f}"),
        ("AUC p(y)", lambda m: report.mean_std(m, "auc/p_true")),
        ("knowledge gap", lambda m: mb(m, "knowledge_gap")),
        ("ZRF", lambda m: mb(m, "zrf")),
        ("MIA Df non-member", lambda m: mb(m, "mia/target_non_member_rate")))
    d, s = results.deletion, results.summary
    return "\n".join(report.render(columns, list(results.models.items()))
                     + [
        "",
        f"Df = {d.num_forget_units} units ({d.ratio:g}% of train, "
        f"{d.num_forget_examples} examples), seed {d.seed}, "
        f"sha256 {d.sha256[:12]}",
        f"{results.method}: the Df-vs-Dr AUC moved "
        f"{report.percent(s['progress/auc/p_true'])} of the way from "
        "original to retrained; test accuracy changed by "
        f"{s['change/test/accuracy']:+.1f} points.",
        "Accuracy in %. AUC: retained (1) vs deleted (0) training examples "
        "by the probability of the true label, mean ± std over "
        f"{base.auc_samples(results)} disjoint Dr samples of size |Df|.",
    ])

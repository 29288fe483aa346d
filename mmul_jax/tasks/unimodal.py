"""Unimodal classification (MU-Bench's image, text, audio and video tasks):
one tower with a class head (`models.classifiers`) over one input per
example, `{"input", "label", "image_id"}` batches (the unit is the example).

Evaluation, MU-Bench's score and the table are classification's; MMUL is
refused, since modality decoupling needs two modalities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import models
from mmul_jax.evaluation import example_scores
from mmul_jax.tasks import base
from mmul_jax.tasks import classification as classification_task
from mmul_jax.tasks import classification_terms


class UnimodalClassification(classification_task.Classification):
  """Cross-entropy on `model.classify(input)`, accuracy evaluation, the
  Df-vs-Dr AUC by p(true label)."""

  name = "unimodal_classification"
  representations = example_scores.UNIMODAL

  # One modality: the base class's refusal (classification has MMUL).
  mmul_terms = base.Task.mmul_terms

  def build_model(self, model_config):
    return models.build(model_config, modality=self.spec.modality,
                        unimodal=True, num_classes=self.num_classes)

  def init_params(self, model, config, seed: int):
    x = self.spec.input_type.example_input(config.model, config.data)
    return jax.jit(model.init)(jax.random.key(seed), x)

  def model_inputs(self, batch):
    return (batch["input"],)

  def training_loss(self, model, *, itm_weight=1.0, axis_name=None):
    del itm_weight, axis_name  # no matching head, no in-batch negatives

    def loss_fn(params, batch, rng: jax.Array):
      out = model.apply(params, batch["input"], train=True,
                        rngs={"dropout": rng}, method=model.classify)
      log_p = jax.nn.log_softmax(out["class_logits"])
      ce = -jnp.take_along_axis(log_p, batch["label"][:, None], axis=1)[:, 0]
      acc = jnp.mean(jnp.argmax(log_p, -1) == batch["label"])
      return ce, {"ce": jnp.mean(ce), "acc": acc}

    return loss_fn

  def classifier_layout(self):
    return self.spec

  def table(self, results):
    """Classification's table, and the accuracy on the out-of-distribution
    test set beside it where the dataset has one."""
    text = super().table(results)
    if not self.spec.ood:
      return text
    accs = ", ".join(f"{name} {m.metrics['ood/accuracy']:.1f}"
                     for name, m in results.models.items()
                     if "ood/accuracy" in m.metrics)
    return text + (f"\nOut-of-distribution test set ({self.spec.ood}) "
                   f"accuracy in %: {accs}.")

  def logit_views(self, model, *, axis_name=None):
    del axis_name
    return model.classify, lambda out, batch: (
        classification_terms.classification_logits(out, batch["label"]))

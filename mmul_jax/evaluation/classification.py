"""Evaluation of a classification model (NLVR2, SNLI-VE, and the unimodal
image and text tasks) on the test split, Df and Dr: accuracy, the
MultiDelete Df-vs-Dr AUC and MU-Bench's metrics.

Every (unit, sentence) pair is one example; a unimodal set's examples are
its units. The AUC scores a pair by the
probability of its true label, p(y | x) (the spec's clean definition, §3.1;
the reference used a fixed class's probability). The membership attack's
features are that probability's log and the predictive entropy.
"""

from __future__ import annotations

import jax
import numpy as np
from scipy import special
from tqdm.auto import tqdm

from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import evaluate as evaluate_lib
from mmul_jax.evaluation import evaluators


# What `Classifier.outputs` keeps of `model.classify`'s outputs (the image
# tokens are left on the device).
OUTPUTS = ("class_logits", "fusion_cls", "image_embed", "text_embed",
           "features")


class Classifier:
  """The jitted class head at a fixed batch size."""

  def __init__(self, model, *, batch_size: int, mean, std,
               layout: pipeline.RecordLayout = pipeline.RETRIEVAL):
    self.batch_size = batch_size
    self._logits = jax.jit(lambda p, *x: model.apply(
        p, *x, method=model.classify)["class_logits"])
    self._outputs = jax.jit(lambda p, *x: {
        k: v for k, v in model.apply(p, *x, method=model.classify).items()
        if k in OUTPUTS})
    self._prep = lambda x: layout.model_input(x, mean, std)

  def _apply(self, fn, params, pairs: pipeline.PairSet):
    if pairs.text is None:
      return evaluate_lib.batched(
          lambda x: fn(params, self._prep(x)), (pairs.images,),
          self.batch_size)
    return evaluate_lib.batched(
        lambda owner, text: fn(
            params, self._prep(pipeline.take(pairs.images, owner)), text),
        (pairs.caption_owner, pairs.text), self.batch_size)

  def logits(self, params, pairs: pipeline.PairSet) -> np.ndarray:
    """`(M, C)` logits of every (unit, sentence) pair of `pairs`, or of
    every example of a unimodal set (`pairs.text` None)."""
    return self._apply(self._logits, params, pairs)

  def outputs(self, params, pairs: pipeline.PairSet) -> dict:
    """The model's `OUTPUTS` it has, per pair (or example): the logits
    and the vectors the leakage audit compares."""
    return self._apply(self._outputs, params, pairs)


# The metric families of a classifier's evaluation (`evaluators`).
METRICS = ("accuracy", "deletion_auc", "mubench")


def forward(classifier: Classifier, params, sets: dict, *,
            options: evaluators.Options, desc: str = "evaluate",
            scores: dict | None = None) -> evaluators.Forward:
  """A classifier's pass over `sets`: each pair's (or example's) outputs,
  log p(true label), whether the argmax is right and the predictive
  entropy; the pair score is p(true label)."""
  outputs, p_true = {}, {}
  for name, s in tqdm(sets.items(), desc=desc, unit="set", leave=False):
    out = classifier.outputs(params, s)
    z = out["class_logits"]
    log_p = special.log_softmax(z, axis=-1)
    true = log_p[np.arange(len(z)), s.labels]
    p_true[name] = np.exp(true)
    outputs[name] = {"outputs": out, "logits": z, "log_p_true": true,
                     "correct": np.argmax(z, -1) == s.labels,
                     "entropy": -np.sum(np.exp(log_p) * log_p, axis=-1)}
  return evaluators.Forward(
      kind="classification", sets=sets, outputs=outputs,
      pair_scores={"p_true": p_true}, params=params, model=classifier,
      options=options, scores=scores)


def evaluate(classifier: Classifier, params, sets: dict, *,
             auc_num_samples: int, auc_seed: int,
             desc: str = "evaluate", scores: dict | None = None,
             metrics=METRICS) -> dict:
  """The metric families `metrics` (default: accuracy on every set,
  `<set>/accuracy` in %; the Df/Dr AUC by the true label's probability,
  `auc/p_true`; MU-Bench's metrics) of a classifier, by flat name
  (`evaluation.results`).

  `sets` must hold "test", "df" and "dr" `PairSet`s with labels. With
  `scores` (a dict), each set's per-example scores
  (`example_scores.classification_set`) are put there, from the same
  forward pass.
  """
  options = evaluators.Options(auc_num_samples=auc_num_samples,
                               auc_seed=auc_seed)
  return evaluators.run(metrics, forward(classifier, params, sets,
                                         options=options, desc=desc,
                                         scores=scores))

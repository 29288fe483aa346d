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

from mmul_jax.data import pipeline
from mmul_jax.evaluation import deletion_auc
from mmul_jax.evaluation import evaluate as evaluate_lib
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import results as results_lib


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


def evaluate(classifier: Classifier, params, sets: dict, *,
             auc_num_samples: int, auc_seed: int,
             desc: str = "evaluate", scores: dict | None = None) -> dict:
  """Accuracy on every set (`<set>/accuracy`, in %), the Df/Dr AUC by
  the true label's probability (`auc/p_true`) and MU-Bench's metrics, by
  flat name (`evaluation.results`).

  `sets` must hold "test", "df" and "dr" `PairSet`s with labels. With
  `scores` (a dict), each set's per-example scores
  (`example_scores.classification_set`) are put there, from the same
  forward pass.
  """
  results, p_true, correct, features, logits = {}, {}, {}, {}, {}
  for name, s in tqdm(sets.items(), desc=desc, unit="set", leave=False):
    outputs = classifier.outputs(params, s)
    z = outputs["class_logits"]
    if scores is not None:
      scores[name] = example_scores.classification_set(outputs, s.labels)
    log_p = special.log_softmax(z, axis=-1)
    true = log_p[np.arange(len(z)), s.labels]
    p_true[name] = np.exp(true)
    correct[name] = np.argmax(z, -1) == s.labels
    entropy = -np.sum(np.exp(log_p) * log_p, axis=-1)
    features[name] = np.stack([true, entropy], 1)
    logits[name] = z
    results[name] = {"accuracy": 100.0 * float(correct[name].mean()),
                     "mean_p_true": float(p_true[name].mean())}
  auc = dict(num_samples=auc_num_samples, seed=auc_seed)
  results["auc"] = {"p_true": deletion_auc.df_vs_dr_auc(
      p_true["df"], p_true["dr"], **auc)}
  num_classes = logits["df"].shape[-1]
  results["mubench"] = {
      "df_acc": float(correct["df"].mean()),
      "dr_acc": float(correct["dr"].mean()),
      "knowledge_gap": mubench.knowledge_gap(
          correct["dr"], correct["df"], seed=auc_seed),
      "knowledge_gap_closed_form": mubench.knowledge_gap_closed_form(
          correct["dr"].mean(), correct["df"].mean()),
      "zrf": mubench.zrf(logits["df"], seed=auc_seed),
      "df_chance": 1.0 / num_classes,
      "mia": mubench.membership_inference(
          features["dr"], features["test"], features["df"], seed=auc_seed),
  }
  return results_lib.flatten(results)

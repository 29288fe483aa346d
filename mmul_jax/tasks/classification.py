"""Classification over the fusion encoder (NLVR2, SNLI-VE and their
embedded variants): the dual encoder with a class head over the fusion of
an example's image(s) and its sentence."""

from __future__ import annotations

import functools

import jax
import numpy as np

from mmul_jax import models
from mmul_jax.evaluation import classification
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import report
from mmul_jax.tasks import base
from mmul_jax.tasks import classification_terms

class Classification(base.Task):
  """Cross-entropy training, accuracy evaluation, the Df-vs-Dr AUC by the
  probability of the true label."""

  name = "classification"
  ignored_data_keys = base.GRAPH_DATA_KEYS
  score = "accuracy"

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

  def logit_views(self, model, *, axis_name=None):
    del axis_name
    return model.classify, lambda out, batch: (
        classification_terms.classification_logits(out, batch["label"]))

  def evaluator(self, model, config):
    c = config
    classifier = classification.Classifier(
        model, batch_size=c.eval.batch_size, mean=c.data.mean,
        std=c.data.std)
    return lambda params, sets, desc: classification.evaluate(
        classifier, params, sets, desc=desc,
        auc_num_samples=c.eval.auc_num_samples, auc_seed=c.eval.auc_seed)

  def headline_metrics(self, ev):
    m = ev["mubench"]
    return {"test_acc": ev["test"]["accuracy"] / 100.0,
            "df_acc": ev["df"]["accuracy"] / 100.0,
            "dr_acc": ev["dr"]["accuracy"] / 100.0,
            "auc": ev["df_vs_dr_auc"]["mean"],
            "knowledge_gap": m["knowledge_gap"], "zrf": m["zrf"],
            "mia_df_non_member": m["mia"]["target_non_member_rate"],
            "mia_df_auc": m["mia"]["target_auc"]}

  def split_scores(self, ev):
    return {s: ev[s]["accuracy"] for s in ("test", "df", "dr")}

  def overall_score(self, ev, original, *, max_dt_drop):
    """Test accuracy against the original's; Df chance 1/classes."""
    return mubench.harmonic_mean_score(
        ev["test"]["accuracy"] / 100.0, original["test"]["accuracy"] / 100.0,
        ev["mubench"]["df_acc"], ev["mubench"]["df_chance"],
        max_dt_drop=max_dt_drop)

  def summary(self, evals, method):
    acc = {k: v["test"]["accuracy"] for k, v in evals.items()}
    return {"df_vs_dr_auc_progress": report.auc_progress_of(
                evals, "df_vs_dr_auc", method),
            "test_accuracy_change": acc[method] - acc["original"]}

  def table(self, results):
    mb = lambda m, key: f"{m['mubench'][key]:.3f}"
    columns = report.model_columns(
        ("test acc", lambda m: f"{m['test']['accuracy']:.1f}"),
        ("Df acc", lambda m: f"{m['df']['accuracy']:.1f}"),
        ("Dr acc", lambda m: f"{m['dr']['accuracy']:.1f}"),
        ("AUC p(y)", lambda m: report.mean_std(m["df_vs_dr_auc"])),
        ("knowledge gap", lambda m: mb(m, "knowledge_gap")),
        ("ZRF", lambda m: mb(m, "zrf")),
        ("MIA Df non-member", lambda m: (
            f"{m['mubench']['mia']['target_non_member_rate']:.3f}")))
    d, s = results["deletion"], results["summary"]
    return "\n".join(report.render(columns, list(results["models"].items()))
                     + [
        "",
        f"Df = {d['num_forget_images']} units ({d['ratio']:g}% of train, "
        f"{d['num_forget_pairs']} examples), seed {d['seed']}, "
        f"sha256 {d['sha256'][:12]}",
        f"{results['method']}: the Df-vs-Dr AUC moved "
        f"{report.percent(s['df_vs_dr_auc_progress'])} of the way from "
        "original to retrained; test accuracy changed by "
        f"{s['test_accuracy_change']:+.1f} points.",
        "Accuracy in %. AUC: retained (1) vs deleted (0) training examples "
        "by the probability of the true label, mean ± std over 5 disjoint Dr "
        "samples of size |Df|.",
    ])

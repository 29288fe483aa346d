"""Image-conditioned generation (CLEAR-style: fictitious persons asked
about from their name, their portrait or both): an image-conditioned
language model (`model.arch = llava`, `models.llava`) trained on each
answer's tokens after the row's image and prompt, `{"prompt",
"prompt_mask", "answer", "answer_mask", "refusal", "refusal_mask",
"image", "image_mask", "question_type", "image_id"}` batches
(`data.core.qa`; the unit is the person, with their portraits and pairs).

Everything of text generation holds (`tasks.generation`: the loss, the
answer-token logit view every distillation and NPO-style method reads,
ROUGE, TOFU's statistics, forget quality, the membership attacks); the
metrics add each set's figures per question type (name, image, both,
general) and the multiple-choice accuracy, and model utility counts the
held-out general knowledge (`evaluators.generation_metrics`). MMUL's
three properties for a generative model are `mmul_gen`'s
(`tasks.image_generation_terms`); `mmul` itself is refused.
"""

from __future__ import annotations

import jax.numpy as jnp

from mmul_jax import models
from mmul_jax.evaluation import generation as generation_eval
from mmul_jax.evaluation import report
from mmul_jax.models import language_layouts
from mmul_jax.tasks import base
from mmul_jax.tasks import generation
from mmul_jax.tasks import image_generation_terms


def _by_type(metric: str, title: str, digits: int = 100):
  return tuple(base.Metric(f"df/{kind}/{metric}", f"Df {kind} {title}",
                           digits)
               for kind in ("name", "image", "both"))


class ImageGeneration(generation.Generation):
  """Answer NLL after the image, metrics per question type."""

  name = "image_generation"
  headline = (
      base.Metric("test/rougeL_recall", "test ROUGE-L", 100, "higher"),
      *_by_type("rougeL_recall", "ROUGE-L"),
      base.Metric("dr/rougeL_recall", "Dr ROUGE-L", 100),
      *_by_type("mc_accuracy", "MC acc."),
      base.Metric("test/general/rougeL_recall", "general ROUGE-L", 100,
                  "higher"),
      base.Metric("df/truth_ratio", "Df truth ratio"),
      base.Metric("forget_quality", "forget quality", 1, "higher"),
      base.Metric("model_utility", "model utility", 1, "higher"),
      base.Metric("auc/p_answer/mean", "AUC prob"),
      *(base.Metric(f"auc_by_type/{k}/mean", f"AUC {k}")
        for k in ("name", "image", "both")),
      base.Metric("mia/min_k", "MIA Min-K% AUC"))

  # The comparison table's columns besides the scores: forgetting and
  # retention by question type, general knowledge, TOFU's two.
  compare_extra = (
      *(base.Metric(f"df/{k}/rougeL_recall", f"Df {k} ROUGE-L")
        for k in ("name", "image", "both")),
      *(base.Metric(f"df/{k}/mc_accuracy", f"Df {k} MC")
        for k in ("name", "image", "both")),
      base.Metric("test/general/rougeL_recall", "general ROUGE-L"),
      *(base.Metric(f"auc_by_type/{k}/mean", f"AUC {k}")
        for k in ("name", "image", "both")),
      base.Metric("forget_quality", "forget quality"),
      base.Metric("model_utility", "model utility"))

  @property
  def data_keys(self):
    return ("prompt_length", "answer_length", "prompt_template",
            "image_size")

  def build_model(self, model_config):
    model = models.build(model_config, image_generation=True)
    self.layout = language_layouts.for_model(model)
    return model

  def example_batch(self, config) -> dict:
    d = config.data
    return {**super().example_batch(config),
            "image": jnp.zeros((1, d.image_size, d.image_size, 3)),
            "image_mask": jnp.ones((1,), bool)}

  def _scorer(self, model, config) -> generation_eval.Scorer:
    # The sets keep uint8 images: normalised as the batches are.
    d = config.data
    return generation_eval.Scorer(
        model, batch_size=config.eval.batch_size,
        prepare=lambda x: self.spec.model_input(x, d.mean, d.std))

  def mmul_gen_terms(self, model, *, axis_name: str | None = None
                     ) -> image_generation_terms.GenerativeTerms:
    """`mmul_gen`'s terms (`image_generation_terms`)."""
    del axis_name  # per-row terms: no in-batch negatives across devices
    return image_generation_terms.terms(self, model)

  def table(self, results):
    f1 = lambda key: lambda m: (f"{m[key]:.1f}" if key in m else "n/a")
    f3 = lambda key: lambda m: (f"{m[key]:.3f}" if key in m else "n/a")
    kinds = ("name", "image", "both")
    columns = report.model_columns(
        ("test ROUGE-L", f1("test/rougeL_recall")),
        *((f"Df {k}", f1(f"df/{k}/rougeL_recall")) for k in kinds),
        *((f"Dr {k}", f1(f"dr/{k}/rougeL_recall")) for k in kinds),
        *((f"Df MC {k}", f1(f"df/{k}/mc_accuracy")) for k in kinds),
        ("general", f1("test/general/rougeL_recall")),
        ("forget quality", lambda m: f"{m['forget_quality']:.2g}"),
        ("utility", f3("model_utility")),
        ("AUC prob", lambda m: report.mean_std(m, "auc/p_answer")),
        ("AUC name/image/both", lambda m: "/".join(
            f"{m[f'auc_by_type/{k}/mean']:.2f}"
            if f"auc_by_type/{k}/mean" in m else "n/a" for k in kinds)),
        ("MIA Min-K%", f3("mia/min_k")))
    return "\n".join(report.render(columns, list(results.models.items()))
                     + self._deletion_lines(results, "persons") + [
        "ROUGE-L recall of greedy answers in %, by question type: name "
        "(text only), image (the portrait, no name), both. MC: "
        "multiple-choice accuracy in % (the answer likelier than every "
        "option in its wording). General: ROUGE-L on held-out persons' "
        "general-knowledge pairs (background colour, a city's country). "
        "Forget quality: the KS test's p-value of Df's truth ratios "
        "against the retrained model's (1: indistinguishable). Utility: "
        "harmonic mean of Dr's probability, ROUGE-L and truth-ratio "
        "statistic and the held-out general pairs'. AUC: retained (1) vs "
        "deleted (0) pairs by answer probability, mean ± std over "
        f"{base.auc_samples(results)} disjoint Dr samples of size |Df|, "
        "overall and per question type. MIA: Min-K% AUC of Df against the held-out persons (their own "
        "pairs).",
    ])

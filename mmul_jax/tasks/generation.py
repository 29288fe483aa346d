"""Text generation (TOFU, MU-Bench's SAMSum and Celeb Profile): a
language model (`model.arch = llama`, decoder-only, or `t5`,
encoder-decoder: `models.language_layouts`) trained on each answer's
tokens with its prompt masked, `{"prompt", "prompt_mask", "answer",
"answer_mask", "refusal", "refusal_mask", "image_id"}` batches
(`data.core.qa`; the unit is the author, dialogue or person, with its
pairs).

The loss is each answer's mean token negative log-likelihood (the
fine-tuning loss of TOFU and OpenUnlearning). The methods that compare
answers with the original's (NPO, SCRUB, Bad Teaching, DELETE) read one
logit view, the answer tokens' next-token logits with the token mask, so
their KL and NPO are per answer token and per answer (`methods.terms`).
Evaluation (`evaluation.generation`): ROUGE from greedy decoding with the
cache, TOFU's statistics, the membership attacks, and the Df-vs-Dr AUC by
the answer probability. MMUL is refused: one modality.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax import losses
from mmul_jax import models
from mmul_jax.evaluation import evaluators
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import generation as generation_eval
from mmul_jax.evaluation import generative
from mmul_jax.evaluation import report
from mmul_jax.models import language_layouts
from mmul_jax.tasks import base


class Generation(base.Task):
  """Answer NLL training, ROUGE and TOFU evaluation, the Df-vs-Dr AUC by
  the answer probability."""

  name = "generation"
  score = "ROUGE-L recall"
  score_metric = "rougeL_recall"
  outputs = "generation"
  evals = ("generation", "deletion_auc")
  aucs = ("auc/p_answer",)
  changes = ("test/rougeL_recall",)
  representations = (
      example_scores.Representation("p_answer", "answer probability",
                                    "probability"),
      example_scores.Representation("loss", "mean token NLL", "loss"),
      example_scores.Representation("min_k", "Min-K% log-probability",
                                    "score"),
      example_scores.Representation("min_k_plus_plus", "Min-K%++",
                                    "score"),
      example_scores.Representation("zlib", "zlib ratio", "score"))
  compare_extra = (base.Metric("forget_quality", "forget quality"),
                   base.Metric("model_utility", "model utility"))
  headline = (
      base.Metric("test/rougeL_recall", "test ROUGE-L", 100, "higher"),
      base.Metric("df/rougeL_recall", "Df ROUGE-L", 100),
      base.Metric("dr/rougeL_recall", "Dr ROUGE-L", 100),
      base.Metric("df/p_answer", "Df prob"),
      base.Metric("df/truth_ratio", "Df truth ratio"),
      base.Metric("forget_quality", "forget quality", 1, "higher"),
      base.Metric("model_utility", "model utility", 1, "higher"),
      base.Metric("auc/p_answer/mean", "AUC prob"),
      base.Metric("mia/min_k", "MIA Min-K% AUC"))

  @property
  def data_keys(self):
    return ("prompt_length", "answer_length", "prompt_template")

  @property
  def num_classes(self) -> int:
    return 0

  # The built model's layout (`models.language_layouts`), set by
  # `build_model`: what `model_inputs` and the answer's logits follow.
  layout = None

  def build_model(self, model_config):
    model = models.build(model_config, generation=True)
    self.layout = language_layouts.for_model(model)
    return model

  def example_batch(self, config) -> dict:
    """A one-row batch of the run's shapes (what `init_params` traces)."""
    d = config.data
    zeros = lambda n: (jnp.zeros((1, n), jnp.int32), jnp.ones((1, n), bool))
    prompt, prompt_mask = zeros(d.prompt_length)
    answer, answer_mask = zeros(d.answer_length)
    return {"prompt": prompt, "prompt_mask": prompt_mask,
            "answer": answer, "answer_mask": answer_mask}

  def init_params(self, model, config, seed: int):
    inputs = language_layouts.for_model(model).inputs(
        self.example_batch(config))
    return jax.jit(model.init)(jax.random.key(seed), *inputs)

  def model_inputs(self, batch):
    if self.layout is None:
      raise RuntimeError("build_model sets the generation task's layout")
    return self.layout.inputs(batch)

  def _answer_logits(self, logits, batch):
    return self.layout.answer_logits(logits, batch)

  def training_loss(self, model, *, itm_weight=1.0, axis_name=None):
    del itm_weight, axis_name  # no matching head, no in-batch negatives

    def loss_fn(params, batch, rng: jax.Array):
      logits = model.apply(params, *self.model_inputs(batch), train=True,
                           rngs={"dropout": rng})
      z = self._answer_logits(logits, batch)
      nll = losses.sequence_nll(z, batch["answer"], batch["answer_mask"])
      m = batch["answer_mask"].astype(jnp.float32)
      hit = (jnp.argmax(z, -1) == batch["answer"]) * m
      return nll, {"nll": jnp.mean(nll),
                   "token_acc": hit.sum() / jnp.maximum(m.sum(), 1.0)}

    return loss_fn

  def logit_views(self, model, *, axis_name=None):
    """One view, "answer": the answer tokens' logits `(B, A, V)`, the true
    token as a one-hot mask and the answer's token mask (the third
    element: the per-token values are averaged over it)."""
    del axis_name

    def views(logits, batch):
      z = self._answer_logits(logits, batch)
      true = jax.nn.one_hot(batch["answer"], z.shape[-1], dtype=bool)
      return {"answer": (z, true, batch["answer_mask"])}

    return None, views

  def _scorer(self, model, config) -> generation_eval.Scorer:
    """The evaluation passes (`evaluation.generation.Scorer`)."""
    return generation_eval.Scorer(model, batch_size=config.eval.batch_size)

  def evaluator(self, model, config):
    scorer = self._scorer(model, config)
    options = evaluators.Options(auc_num_samples=config.eval.auc_num_samples,
                                 auc_seed=config.eval.auc_seed,
                                 utility_test=self.spec.utility_test)
    names = self.evals + tuple(config.eval.extra_metrics)
    return lambda params, sets, desc, scores=None: evaluators.run(
        names, generation_eval.forward(scorer, params, sets,
                                       options=options, desc=desc,
                                       scores=scores))

  def example_scorer(self, model, config):
    scorer = self._scorer(model, config)
    return lambda params, sets: {
        name: generation_eval.example_scores(
            generation_eval.set_outputs(scorer, params, s))
        for name, s in sets.items()}

  def add_retrain_referenced(self, evals, scores):
    """TOFU's forget quality (`forget_quality`): the KS test's p-value
    between the model's Df truth ratios and the retrained model's (whose
    scores are computed once and cached with it); the retrained model's
    own is 1. NaN where the data has no perturbed answers. MUSE's PrivLeak
    (`privleak`, %): the Min-K% attack's AUC of Df against the held-out
    set relative to the retrained model's (0 for the retrained model).
    The reference-model attack (`mia/reference`) with the retrained model
    as the reference (0.5 for the retrained model itself)."""
    finite = lambda x: None if x is None or not np.isfinite(x).any() else (
        x[np.isfinite(x)])
    reference = finite(scores["retrained"]["df"].get("truth_ratio"))
    retrained_auc = evals["retrained"]["mia/min_k"]
    for name, metrics in evals.items():
      mine = finite(scores[name]["df"].get("truth_ratio"))
      metrics["forget_quality"] = (
          float("nan") if reference is None or mine is None
          else generative.forget_quality(mine, reference))
      metrics["privleak"] = generative.privleak(metrics["mia/min_k"],
                                                retrained_auc)
      # The reference-model attack with the retrained model as reference.
      ref = {split: generative.reference_attack_from_nll(
          scores[name][split]["loss"], scores["retrained"][split]["loss"])
             for split in ("df", "test")}
      metrics["mia/reference"] = generative.attack_auc(ref["df"],
                                                       ref["test"])

  def overall_score(self, metrics, original, *, max_dt_drop):
    """MU-Bench's generative score on fractions: (test ROUGE-L + 1 - Df
    ROUGE-L) / 2 (`generative.mubench_overall`), 0 when test ROUGE-L
    fell more than `max_dt_drop` below the original's (the guard rail of
    the other tasks' score)."""
    test = metrics["test/rougeL_recall"] / 100.0
    if test < original["test/rougeL_recall"] / 100.0 - max_dt_drop:
      return 0.0
    return generative.mubench_overall(test,
                                      metrics["df/rougeL_recall"] / 100.0)

  @staticmethod
  def _deletion_lines(results, units: str) -> list[str]:
    """The table's lines under the models: Df (`units` names its unit)
    and how far the method moved."""
    d, s = results.deletion, results.summary
    return [
        "",
        f"Df = {d.num_forget_units} {units} ({d.ratio:g}% of train, "
        f"{d.num_forget_examples} question-answer pairs), seed {d.seed}, "
        f"sha256 {d.sha256[:12]}",
        f"{results.method}: the Df-vs-Dr AUC moved "
        f"{report.percent(s['progress/auc/p_answer'])} of the way from "
        "original to retrained; test ROUGE-L recall changed by "
        f"{s['change/test/rougeL_recall']:+.1f} points."]

  def table(self, results):
    f1 = lambda key: lambda m: f"{m[key]:.1f}"
    f3 = lambda key: lambda m: (f"{m[key]:.3f}" if key in m else "n/a")
    columns = report.model_columns(
        ("test ROUGE-L", f1("test/rougeL_recall")),
        ("Df ROUGE-L", f1("df/rougeL_recall")),
        ("Dr ROUGE-L", f1("dr/rougeL_recall")),
        ("Df prob", f3("df/p_answer")),
        ("Df truth ratio", f3("df/truth_ratio")),
        ("forget quality", lambda m: f"{m['forget_quality']:.2g}"),
        ("utility", f3("model_utility")),
        ("AUC prob", lambda m: report.mean_std(m, "auc/p_answer")),
        ("MIA Min-K%", f3("mia/min_k")))
    return "\n".join(report.render(columns, list(results.models.items()))
                     + self._deletion_lines(results, "units") + [
        "ROUGE-L recall of greedy answers in %. Prob: TOFU's answer "
        "probability exp(-mean token NLL). Truth ratio: mean P(perturbed) / "
        "P(paraphrased) (below 1: the model prefers the true answer). "
        "Forget quality: the KS test's p-value of Df's truth ratios "
        "against the retrained model's (1: indistinguishable). "
        "Utility: harmonic mean of Dr's probability, ROUGE-L recall and "
        "truth-ratio statistic. AUC: retained (1) vs deleted (0) pairs by "
        "answer probability, mean ± std over "
        f"{base.auc_samples(results)} disjoint Dr samples of size |Df|. "
        "MIA: Min-K% AUC of Df against the held-out set.",
    ])


"""Image-text retrieval (COCO, Flickr30K, the embedded shapes captions):
a CLIP-style dual encoder with a matching head over the fusion encoder."""

from __future__ import annotations

import jax
import numpy as np

from mmul_jax import models
from mmul_jax.evaluation import evaluate
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import report
from mmul_jax.tasks import base
from mmul_jax.tasks import mmul_plus_terms
from mmul_jax.tasks import retrieval_terms


class Retrieval(base.Task):
  """Image-text retrieval: ITC + ITM training, recall@K evaluation, the
  Df-vs-Dr AUC by cosine and by matching probability."""

  name = "retrieval"
  score = "R@1"
  score_metric = "itc/r1_mean"
  outputs = "retrieval"
  evals = evaluate.METRICS
  aucs = ("auc/cosine", "auc/match")
  changes = ("test/itc/r1_mean", "test/itm/r1_mean")
  rerank_metric = "test/itm/r1_mean"
  headline = (
      base.Metric("test/itc/r1_mean", "test R@1", 100, "higher"),
      base.Metric("df/itc/r1_mean", "Df R@1", 100),
      base.Metric("dr/itc/r1_mean", "Dr R@1", 100),
      base.Metric("auc/cosine/mean", "AUC cosine"),
      base.Metric("auc/match/mean", "AUC match"),
      *base.MUBENCH_HEADLINE)
  representations = example_scores.retrieval_representations("image")

  def build_model(self, model_config):
    return models.build(model_config)

  def example_inputs(self, config) -> tuple:
    c = config.model
    return (np.zeros((1, c.image_size, c.image_size, 3), np.float32),
            base.zeros_text(c))

  def init_params(self, model, config, seed: int):
    return jax.jit(model.init)(jax.random.key(seed),
                               *self.example_inputs(config))

  def training_loss(self, model, *, itm_weight=1.0, axis_name=None):
    return retrieval_terms.training_loss(model, itm_weight=itm_weight,
                                         axis_name=axis_name)

  def mmul_terms(self, model, *, negative_source="df", axis_name=None):
    return base.MmulTerms(
        md=retrieval_terms.modality_decoupling(
            model, negative_source=negative_source, axis_name=axis_name),
        ukr=retrieval_terms.unimodal_retention(model),
        mkr=retrieval_terms.multimodal_retention(model),
        share=retrieval_terms.share_embeddings(model, "df"))

  def mmul_plus_terms(self, model, *, negative_source="df", axis_name=None):
    paper = self.mmul_terms(model, negative_source=negative_source,
                            axis_name=axis_name)
    share = mmul_plus_terms.retrieval_share(
        model, negative_source=negative_source, axis_name=axis_name)
    return mmul_plus_terms.PlusTerms(
        terms={"md": paper.md, "ukr": paper.ukr, "mkr": paper.mkr,
               "fusion": mmul_plus_terms.fusion_decoupling(share),
               "answer": mmul_plus_terms.answer_decoupling(share,
                                                           "itm_logits"),
               "md_cal": mmul_plus_terms.calibrated_decoupling(share),
               "answer_cal": mmul_plus_terms.calibrated_answer(share),
               "mkr_scores": mmul_plus_terms.score_retention(
                   model, "__call__", "itm_logits", cosine=True,
                   axis_name=axis_name)},
        share=share)

  def logit_views(self, model, *, axis_name=None):
    return model.__call__, lambda out, batch: (
        retrieval_terms.retrieval_logits(out, batch["image_id"], axis_name))

  def _embedder(self, model, config):
    c = config
    return evaluate.Embedder(model, batch_size=c.eval.batch_size,
                             mean=c.data.mean, std=c.data.std,
                             layout=self.spec)

  def example_scorer(self, model, config):
    embedder = self._embedder(model, config)
    return lambda params, sets: example_scores.retrieval(embedder, params,
                                                         sets)

  def evaluator(self, model, config):
    c = config
    embedder = self._embedder(model, config)
    return lambda params, sets, desc, scores=None: evaluate.evaluate(
        embedder, params, sets, desc=desc, scores=scores,
        ks=tuple(c.eval.recall_ks), rerank_k=c.eval.rerank_k,
        auc_num_samples=c.eval.auc_num_samples, auc_seed=c.eval.auc_seed,
        metrics=self.evals + tuple(c.eval.extra_metrics))

  def overall_score(self, metrics, original, *, max_dt_drop):
    """Text-to-image R@1 against the original's; Df chance 1/|Df|."""
    return mubench.harmonic_mean_score(
        metrics["test/itc/t2i_r1"] / 100.0,
        original["test/itc/t2i_r1"] / 100.0,
        metrics["mubench/df_t2i_acc"], metrics["mubench/df_chance"],
        max_dt_drop=max_dt_drop)

  def table(self, results):
    r1 = lambda m, d: f"{m[f'test/itc/{d}_r1']:.1f}"
    columns = report.model_columns(
        ("test R@1 i2t/t2i/mean", lambda m: f"{r1(m, 'i2t')} / "
         f"{r1(m, 't2i')} / {m['test/itc/r1_mean']:.1f}"),
        ("R@1 rerank", lambda m: _recall(m, "test/itm/r1_mean")),
        ("R@5", lambda m: _recall(m, "test/itc/r5_mean")),
        ("R@10", lambda m: _recall(m, "test/itc/r10_mean")),
        ("Df R@1", lambda m: _recall(m, "df/itc/r1_mean")),
        ("Dr R@1", lambda m: _recall(m, "dr/itc/r1_mean")),
        ("AUC cosine", lambda m: report.mean_std(m, "auc/cosine")),
        ("AUC match", lambda m: report.mean_std(m, "auc/match")))
    d, s = results.deletion, results.summary
    pct = report.percent
    rerank = s.get("change/test/itm/r1_mean")
    return "\n".join(report.render(columns, list(results.models.items()))
                     + [
        "",
        f"Df = {d.num_forget_units} images ({d.ratio:g}% of train, "
        f"{d.num_forget_examples} pairs), seed {d.seed}, "
        f"sha256 {d.sha256[:12]}",
        f"{results.method}: the Df-vs-Dr AUC moved "
        f"{pct(s['progress/auc/cosine'])} (cosine score) and "
        f"{pct(s['progress/auc/match'])} (matching score) of the way "
        "from original to retrained;",
        f"test R@1 (mean of both directions) changed by "
        f"{s['change/test/itc/r1_mean']:+.1f} points (cosine ranking)"
        + (f", {rerank:+.1f} (re-ranked)" if rerank is not None else "")
        + ".",
        "Recall in %; R@5/R@10/Df/Dr by cosine ranking; Df and Dr recall "
        "use only Df / Dr images as gallery.",
        "AUC: retained (1) vs deleted (0) training pairs by pair score, "
        f"mean ± std over {base.auc_samples(results)} disjoint Dr samples "
        "of size |Df|.",
    ])


def _recall(m: dict, name: str) -> str:
  return report.number(m.get(name), ".1f")

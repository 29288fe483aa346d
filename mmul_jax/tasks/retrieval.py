"""Image-text retrieval (COCO, Flickr30K, the embedded shapes captions):
a CLIP-style dual encoder with a matching head over the fusion encoder."""

from __future__ import annotations

import jax
import numpy as np

from mmul_jax import models
from mmul_jax.evaluation import evaluate
from mmul_jax.evaluation import mubench
from mmul_jax.evaluation import report
from mmul_jax.tasks import base
from mmul_jax.tasks import retrieval_terms

class Retrieval(base.Task):
  """Image-text retrieval: ITC + ITM training, recall@K evaluation, the
  Df-vs-Dr AUC by cosine and by matching probability."""

  name = "retrieval"
  ignored_data_keys = base.GRAPH_DATA_KEYS
  score = "R@1"

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

  def logit_views(self, model, *, axis_name=None):
    return model.__call__, lambda out, batch: (
        retrieval_terms.retrieval_logits(out, batch["image_id"], axis_name))

  def evaluator(self, model, config):
    c = config
    embedder = evaluate.Embedder(model, batch_size=c.eval.batch_size,
                                 mean=c.data.mean, std=c.data.std,
                                 layout=self.spec)
    return lambda params, sets, desc: evaluate.evaluate(
        embedder, params, sets, desc=desc, ks=tuple(c.eval.recall_ks),
        rerank_k=c.eval.rerank_k, auc_num_samples=c.eval.auc_num_samples,
        auc_seed=c.eval.auc_seed)

  def headline_metrics(self, ev):
    m = ev["mubench"]
    return {"test_r1": ev["test"]["itc"]["r1_mean"] / 100.0,
            "df_r1": ev["df"]["itc"]["r1_mean"] / 100.0,
            "dr_r1": ev["dr"]["itc"]["r1_mean"] / 100.0,
            "auc": ev["df_vs_dr_auc"]["mean"],
            "auc_match": ev["df_vs_dr_auc_itm"]["mean"],
            "knowledge_gap": m["knowledge_gap"], "zrf": m["zrf"],
            "mia_df_non_member": m["mia"]["target_non_member_rate"],
            "mia_df_auc": m["mia"]["target_auc"]}

  def split_scores(self, ev):
    """Mean recall@1 of both directions by cosine ranking."""
    return {s: ev[s]["itc"]["r1_mean"] for s in ("test", "df", "dr")}

  def overall_score(self, ev, original, *, max_dt_drop):
    """Text-to-image R@1 against the original's; Df chance 1/|Df|."""
    return mubench.harmonic_mean_score(
        ev["test"]["itc"]["t2i_r1"] / 100.0,
        original["test"]["itc"]["t2i_r1"] / 100.0,
        ev["mubench"]["df_t2i_acc"], ev["mubench"]["df_chance"],
        max_dt_drop=max_dt_drop)

  def summary(self, evals, method):
    out = {}
    for auc_key in ("df_vs_dr_auc", "df_vs_dr_auc_itm"):
      out[f"{auc_key}_progress"] = report.auc_progress_of(evals, auc_key,
                                                          method)
    for ranking in evals["original"]["test"]:
      if ranking in ("itc", "itm"):
        r1 = {k: v["test"][ranking]["r1_mean"] for k, v in evals.items()}
        out[f"test_r1_mean_change_{ranking}"] = r1[method] - r1["original"]
    return out

  def comparison_row(self, ev):
    return {**self.split_scores(ev),
            "test_rerank": (ev["test"].get("itm") or {}).get("r1_mean"),
            "auc_match": ev["df_vs_dr_auc_itm"]["mean"]}

  def table(self, results):
    itc = lambda m: m["test"]["itc"]
    columns = report.model_columns(
        ("test R@1 i2t/t2i/mean", lambda m: f"{itc(m)['i2t_r1']:.1f} / "
         f"{itc(m)['t2i_r1']:.1f} / {itc(m)['r1_mean']:.1f}"),
        ("R@1 rerank", lambda m: _recall(m, "test", "itm")),
        ("R@5", lambda m: _recall(m, "test", "itc", 5)),
        ("R@10", lambda m: _recall(m, "test", "itc", 10)),
        ("Df R@1", lambda m: _recall(m, "df", "itc")),
        ("Dr R@1", lambda m: _recall(m, "dr", "itc")),
        ("AUC cosine", lambda m: report.mean_std(m["df_vs_dr_auc"])),
        ("AUC match", lambda m: report.mean_std(m["df_vs_dr_auc_itm"])))
    d, s = results["deletion"], results["summary"]
    pct = report.percent
    return "\n".join(report.render(columns, list(results["models"].items()))
                     + [
        "",
        f"Df = {d['num_forget_images']} images ({d['ratio']:g}% of train, "
        f"{d['num_forget_pairs']} pairs), seed {d['seed']}, "
        f"sha256 {d['sha256'][:12]}",
        f"{results['method']}: the Df-vs-Dr AUC moved "
        f"{pct(s['df_vs_dr_auc_progress'])} (cosine score) and "
        f"{pct(s['df_vs_dr_auc_itm_progress'])} (matching score) of the way "
        "from original to retrained;",
        f"test R@1 (mean of both directions) changed by "
        f"{s['test_r1_mean_change_itc']:+.1f} points (cosine ranking)"
        + (f", {s['test_r1_mean_change_itm']:+.1f} (re-ranked)"
           if "test_r1_mean_change_itm" in s else "") + ".",
        "Recall in %; R@5/R@10/Df/Dr by cosine ranking; Df and Dr recall "
        "use only Df / Dr images as gallery.",
        "AUC: retained (1) vs deleted (0) training pairs by pair score, "
        "mean ± std over 5 disjoint Dr samples of size |Df|.",
    ])


def _recall(m: dict, split: str, ranking: str, k: int = 1) -> str:
  r = m[split].get(ranking)
  return "-" if r is None else f"{r[f'r{k}_mean']:.1f}"

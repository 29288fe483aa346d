"""Metrics: retrieval recall@K, the Df-vs-Dr AUC, MU-Bench's metrics, and
result reports."""

from mmul_jax.evaluation.deletion_auc import df_vs_dr_auc
from mmul_jax.evaluation.mubench import harmonic_mean_score
from mmul_jax.evaluation.mubench import knowledge_gap
from mmul_jax.evaluation.mubench import knowledge_gap_closed_form
from mmul_jax.evaluation.mubench import membership_inference
from mmul_jax.evaluation.mubench import retrain_gaps
from mmul_jax.evaluation.mubench import zrf
from mmul_jax.evaluation.report import auc_progress
from mmul_jax.evaluation.retrieval import recall_at_k

__all__ = ["auc_progress", "df_vs_dr_auc", "harmonic_mean_score",
           "knowledge_gap", "knowledge_gap_closed_form",
           "membership_inference", "recall_at_k", "retrain_gaps", "zrf"]

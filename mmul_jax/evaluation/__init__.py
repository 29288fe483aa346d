"""Metrics: retrieval recall@K, the Df-vs-Dr AUC, and result reports."""

from mmul_jax.evaluation.deletion_auc import df_vs_dr_auc
from mmul_jax.evaluation.report import auc_progress
from mmul_jax.evaluation.retrieval import recall_at_k

__all__ = ["auc_progress", "df_vs_dr_auc", "recall_at_k"]

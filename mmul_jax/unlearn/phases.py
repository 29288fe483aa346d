"""The three training phases of a run, each resumable
(`training.phase.run_phase`): the original model on D, the retrained
reference on Dr (`train_phase`), and unlearning with the configured method
(`unlearn_phase`); where their models live and what each must match
(`run_dirs`). This module is their one import point."""

from mmul_jax.unlearn.run_dirs import JUDGE_KEYS
from mmul_jax.unlearn.run_dirs import KINDS
from mmul_jax.unlearn.run_dirs import MONITOR_KEYS
from mmul_jax.unlearn.run_dirs import TRAIN_INFO_FILE
from mmul_jax.unlearn.run_dirs import UNLEARN_INFO_FILE
from mmul_jax.unlearn.run_dirs import as_recorded
from mmul_jax.unlearn.run_dirs import digest
from mmul_jax.unlearn.run_dirs import eval_settings
from mmul_jax.unlearn.run_dirs import events_dir
from mmul_jax.unlearn.run_dirs import method_settings
from mmul_jax.unlearn.run_dirs import model_dir
from mmul_jax.unlearn.run_dirs import run_settings
from mmul_jax.unlearn.run_dirs import settings_digest
from mmul_jax.unlearn.run_dirs import shadow_root
from mmul_jax.unlearn.run_dirs import train_fingerprint
from mmul_jax.unlearn.run_dirs import unlearn_dir
from mmul_jax.unlearn.run_dirs import unlearn_fingerprint
from mmul_jax.unlearn.run_dirs import unlearn_settings
from mmul_jax.unlearn.train_phase import model_keys
from mmul_jax.unlearn.train_phase import train_model
from mmul_jax.unlearn.unlearn_phase import Lanes
from mmul_jax.unlearn.unlearn_phase import context
from mmul_jax.unlearn.unlearn_phase import optimizer
from mmul_jax.unlearn.unlearn_phase import unlearn_lanes
from mmul_jax.unlearn.unlearn_phase import unlearn_model

__all__ = [
    "JUDGE_KEYS",
    "KINDS",
    "Lanes",
    "MONITOR_KEYS",
    "TRAIN_INFO_FILE",
    "UNLEARN_INFO_FILE",
    "as_recorded",
    "context",
    "digest",
    "eval_settings",
    "events_dir",
    "method_settings",
    "model_dir",
    "model_keys",
    "optimizer",
    "run_settings",
    "settings_digest",
    "shadow_root",
    "train_fingerprint",
    "train_model",
    "unlearn_dir",
    "unlearn_fingerprint",
    "unlearn_lanes",
    "unlearn_model",
    "unlearn_settings",
]

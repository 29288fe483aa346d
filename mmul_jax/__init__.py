"""mmul_jax: multimodal machine unlearning in JAX.

Public API (everything else is internal):

  mmul_jax.losses        loss functions (MMUL's three, contrastive, matching,
                         distillation) and the loss-term algebra
  mmul_jax.gradient_transforms  optax transforms of methods (saliency mask,
                         one-step noise, l2-ball projection)
  mmul_jax.methods       unlearning methods by name (`methods.METHODS`),
                         each a `methods.Method` record
  mmul_jax.tasks         task kinds by name (`tasks.TASKS`): retrieval,
                         classification, graph-text
  mmul_jax.models        the dual encoder and its size presets
  mmul_jax.data          embedded dataset, tokenizer, deletion sets, input
  mmul_jax.evaluation    recall@K, Df-vs-Dr AUC, reports
  default_config         every config key with its default
"""

from mmul_jax import data
from mmul_jax import evaluation
from mmul_jax import gradient_transforms
from mmul_jax import losses
from mmul_jax import methods
from mmul_jax import models
from mmul_jax import tasks
from mmul_jax.config_schema import default_config
from mmul_jax.errors import UserError

__version__ = "0.1.0"

__all__ = [
    "UserError",
    "data",
    "default_config",
    "evaluation",
    "gradient_transforms",
    "losses",
    "methods",
    "models",
    "tasks",
]

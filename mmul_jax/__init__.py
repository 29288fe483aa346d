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

import importlib

# Subpackages load on first use (PEP 562), so `import mmul_jax.losses` costs
# jax, flax, optax and chex only, not the data and evaluation stacks (TFDS,
# grain, scikit-learn, Orbax) that a run needs.
_SUBPACKAGES = ("data", "evaluation", "gradient_transforms", "losses",
                "methods", "models", "tasks")
_ATTRIBUTES = {"default_config": "mmul_jax.config_schema",
               "UserError": "mmul_jax.errors"}


def __getattr__(name):
  if name in _SUBPACKAGES:
    return importlib.import_module(f"mmul_jax.{name}")
  if name in _ATTRIBUTES:
    return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
  raise AttributeError(f"module 'mmul_jax' has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(__all__))


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

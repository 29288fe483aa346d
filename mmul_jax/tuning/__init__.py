"""Equal-budget hyperparameter search (issue 19): each method's search
space (`space`)."""

from mmul_jax.tuning.space import SHARED, Param, batches, space, structure
from mmul_jax.tuning.space import suggest, to_optuna

__all__ = ["SHARED", "Param", "batches", "space", "structure", "suggest",
           "to_optuna"]

"""Equal-budget hyperparameter search (issue 19): each method's search
space (`search_space`), its Optuna study (`study`) and what a trial is
scored by (`objective`); `unlearn.tune` runs it."""

from mmul_jax.tuning.search_space import SHARED, Param, batches, shared
from mmul_jax.tuning.search_space import space, structure, suggest
from mmul_jax.tuning.search_space import to_optuna

__all__ = ["SHARED", "Param", "batches", "shared", "space", "structure",
           "suggest", "to_optuna"]

"""Equal-budget hyperparameter search: each method's search space
(`search_space`), its Optuna study (`study`) and what a trial is scored by
(`objective`); `unlearn.tune` runs it. The design and the runs are in
docs/experiments/issues_19_20.md, issue 19."""

from mmul_jax.tuning.search_space import SHARED, Param, batches, shared
from mmul_jax.tuning.search_space import space, structure, suggest
from mmul_jax.tuning.search_space import to_optuna

__all__ = ["SHARED", "Param", "batches", "shared", "space", "structure",
           "suggest", "to_optuna"]

"""What a task kind is: everything that differs between image-text
retrieval, classification over the fusion encoder and graph-text retrieval.

A run builds one `Task` in setup (`tasks.for_dataset`), from the dataset's
`task` name, and asks it, never the model or the results' keys, what kind
of run it is. The task owns the model it trains, the training loss, MMUL's
terms, the answers the distillation methods compare (logit views), the
evaluation, the headline metrics and the printed table. A new task kind is
one file with a `Task` subclass and one `tasks.register` line.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, NamedTuple

import jax
import numpy as np

from mmul_jax import errors
from mmul_jax import losses

Batch = dict[str, Any]
# The molecule budgets of `config.data`, which image tasks never read.
GRAPH_DATA_KEYS = ("max_atoms", "max_edges")
# `loss(params, batch, rng) -> (per-example losses (B,), aux)`
TaskLoss = Callable[[Any, Batch, jax.Array], tuple[jax.Array, dict]]
# `views(model_output, batch) -> {name: (logits, true-answer mask)}`
LogitViews = Callable[[dict, Batch], dict[str, tuple[jax.Array, jax.Array]]]


class MmulTerms(NamedTuple):
  """MMUL's three terms for a task (`Task.mmul_terms`).

  md: L_MD over a `{"df", "dr"}` batch; ukr: L_UKR and mkr: L_MKR over a
  flat batch (MMUL puts them on Df and Dr). share: a `losses.precompute`
  function that computes the Df representations L_MD and L_UKR both read
  once, or None.
  """

  md: losses.LossTerm
  ukr: losses.LossTerm
  mkr: losses.LossTerm
  share: Callable[..., Any] | None = None


class Task:
  """A task kind; subclasses implement every method below.

  `spec` is the dataset's `datasets.DatasetSpec` (its record layout, class
  names and features).
  """

  name: ClassVar[str] = ""
  # Keys of `config.data` this kind never reads (left out of fingerprints).
  ignored_data_keys: ClassVar[tuple[str, ...]] = ()
  score: ClassVar[str] = ""  # the per-split score's name, for tables

  def __init__(self, spec):
    self.spec = spec

  @property
  def num_classes(self) -> int:
    return len(self.spec.labels)

  @property
  def supports_mmul(self) -> bool:
    """Whether the task has MMUL's terms (two modalities)."""
    return type(self).mmul_terms is not Task.mmul_terms

  # The model and its parameters.
  def build_model(self, model_config):
    """The Flax module this task trains, from `config.model`."""
    raise NotImplementedError

  def init_params(self, model, config, seed: int):
    """Freshly initialised parameters (the same for the same seed)."""
    raise NotImplementedError

  # Training and unlearning.
  def training_loss(self, model, *, itm_weight: float = 1.0,
                    axis_name: str | None = None) -> TaskLoss:
    """The loss the original and the retrained model are trained with."""
    raise NotImplementedError

  def task_term(self, model, *, itm_weight: float = 1.0,
                axis_name: str | None = None,
                superloss_lambda: float | None = None) -> losses.LossTerm:
    """`training_loss` as a `LossTerm` on a flat batch (the frozen models
    are not read): the batch mean, or with `superloss_lambda` the SuperLoss
    curriculum's confidence-weighted mean (`losses.superloss`)."""
    fn = self.training_loss(model, itm_weight=itm_weight,
                            axis_name=axis_name)

    def term(params, frozen, batch, *, rng):
      del frozen
      return fn(params, batch, rng)

    if superloss_lambda is not None:
      return losses.superloss(term, lam=superloss_lambda)
    return losses.loss_term(term)

  def mmul_terms(self, model, *, negative_source: str = "df",
                 axis_name: str | None = None) -> MmulTerms:
    """MMUL's three terms for this task. A task with one modality raises
    `ConfigError`: modality decoupling needs two."""
    del model, negative_source, axis_name
    raise errors.ConfigError(
        f"MMUL needs two modalities; task {self.name!r} has one. Use a "
        "unimodal method (finetune, neggrad, randlabel, salun, scrub, ...)")

  def logit_views(self, model, *, axis_name: str | None = None
                  ) -> tuple[Callable, LogitViews]:
    """`(module method to run, views)`: the model's answers as logits with
    their true-answer masks, what KL distillation and DELETE compare."""
    raise NotImplementedError

  # Evaluation and reporting.
  def evaluator(self, model, config) -> Callable[..., dict]:
    """`fn(params, sets, desc) -> metrics` on the "test", "df" and "dr"
    `PairSet`s."""
    raise NotImplementedError

  def headline_metrics(self, ev: dict) -> dict:
    """One model's main metrics, all as fractions in [0, 1]."""
    raise NotImplementedError

  def split_scores(self, ev: dict) -> dict:
    """`{"test", "df", "dr"}`: the task's score on each split, in %."""
    raise NotImplementedError

  def overall_score(self, ev: dict, original: dict, *,
                    max_dt_drop: float) -> float:
    """MU-Bench's harmonic-mean score of `ev` against the original's."""
    raise NotImplementedError

  def summary(self, evals: dict, method: str) -> dict:
    """How far the method moved each metric (`evals` by model name)."""
    raise NotImplementedError

  def table(self, results: dict) -> str:
    """The printed comparison of a results record's models."""
    raise NotImplementedError

  def comparison_row(self, ev: dict) -> dict:
    """What `unlearn.compare` ranks: `split_scores` plus the second AUC
    and re-ranked test score where the task has them (else None)."""
    return {**self.split_scores(ev), "test_rerank": None, "auc_match": None}

  def check_splits(self, data_config, splits: dict) -> None:
    """Checks (or measures) `config.data` against the indexed splits."""
    del data_config, splits


def zeros_text(model_config) -> np.ndarray:
  """One all-padding text, for initialising a model."""
  return np.zeros((1, model_config.context_length), np.int32)

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
from mmul_jax.data.core import modalities
from mmul_jax.evaluation import report

Batch = dict[str, Any]
# `loss(params, batch, rng) -> (per-example losses (B,), aux)`
TaskLoss = Callable[[Any, Batch, jax.Array], tuple[jax.Array, dict]]
# `views(model_output, batch) -> {name: (logits, true-answer mask)}`
LogitViews = Callable[[dict, Batch], dict[str, tuple[jax.Array, jax.Array]]]


class Metric(NamedTuple):
  """A headline metric of a task: its flat name in the results record
  (`evaluation.results`), its column title, how many of its units make one
  (100 for a percentage: gaps to the retrained model are taken on
  fractions), and which value is best: "higher", "lower", or None, the
  closest to the retrained model (forgetting more than a model that never
  saw Df is over-forgetting, not success)."""

  name: str
  title: str
  scale: float = 1.0
  best: str | None = None

  @property
  def digits(self) -> int:
    """Decimals shown: one for a percentage, three for a fraction."""
    return 1 if self.scale == 100 else 3


# The MU-Bench headline metrics every task has.
MUBENCH_HEADLINE = (
    Metric("mubench/knowledge_gap", "knowledge gap"),
    Metric("mubench/zrf", "ZRF"),
    Metric("mubench/mia/target_non_member_rate", "MIA Df non-member"),
    Metric("mubench/mia/target_auc", "MIA Df AUC"))


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
  """A task kind. Subclasses set the class attributes (the names of its
  metrics in the results record, `evaluation.results`) and implement every
  method that raises `NotImplementedError`; the summary, the per-split
  scores and the comparison row are read from the attributes.

  `spec` is the dataset's `datasets.DatasetSpec` (its record layout, class
  names and features).
  """

  name: ClassVar[str] = ""
  score: ClassVar[str] = ""  # the per-split score's title, for tables
  # The per-split score's flat name below the split ("itc/r1_mean" is read
  # as "test/itc/r1_mean", "df/itc/r1_mean", ...), in %.
  score_metric: ClassVar[str] = ""
  # The forward passes its evaluation makes (`evaluators.Forward.kind`)
  # and the metric families it always runs on them (`evaluators`).
  outputs: ClassVar[str] = ""
  evals: ClassVar[tuple[str, ...]] = ()
  # The Df-vs-Dr AUCs by flat prefix ("auc/cosine"); the first is the
  # headline, the one methods are selected by.
  aucs: ClassVar[tuple[str, ...]] = ()
  # Test scores whose change from the original the summary reports.
  changes: ClassVar[tuple[str, ...]] = ()
  # The re-ranked test score, where the task has one ("test/itm/r1_mean").
  rerank_metric: ClassVar[str | None] = None
  # What the leaderboard shows and the gap to retraining averages.
  headline: ClassVar[tuple[Metric, ...]] = ()
  # Headline metrics the method comparison's table adds (`unlearn.compare`:
  # TOFU's forget quality and model utility for generation).
  compare_extra: ClassVar[tuple[Metric, ...]] = ()
  # What the model computes per example (`evaluation.example_scores`):
  # the leakage audit's rows.
  representations: ClassVar[tuple] = ()
  # Whether the model answers with logits (`logit_views`); the methods that
  # compare them refuse a task without (a diffusion model's).
  has_logits: ClassVar[bool] = True

  def __init__(self, spec):
    self.spec = spec

  @property
  def data_keys(self) -> tuple[str, ...]:
    """The input-type-specific `config.data` keys this task reads (the
    rest of `modalities.OPTIONAL_DATA_KEYS` is left out of its runs'
    fingerprints): its dataset's input type's; text reads none."""
    return self.spec.input_type.data_keys

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

  def mmul_plus_terms(self, model, *, negative_source: str = "df",
                      axis_name: str | None = None):
    """`mmul_plus`'s terms (`tasks.mmul_plus_terms.PlusTerms`): MMUL's
    three and the decoupling of every other score the model has."""
    return self.mmul_terms(model, negative_source=negative_source,
                           axis_name=axis_name)  # raises for one modality

  def model_inputs(self, batch: Batch) -> tuple:
    """The arguments of the model method `logit_views` names, from a
    batch: an image-text task's images and texts."""
    return batch["image"], batch["text"]

  def logit_views(self, model, *, axis_name: str | None = None
                  ) -> tuple[Callable, LogitViews]:
    """`(module method to run, views)`: the model's answers as logits with
    their true-answer masks, what KL distillation and DELETE compare."""
    raise NotImplementedError

  # Evaluation and reporting.
  def evaluator(self, model, config) -> Callable[..., dict]:
    """`fn(params, sets, desc, scores=None) -> metrics` (by flat name) on
    the "test", "df" and "dr" `PairSet`s; with a `scores` dict, also each
    set's per-example scores (those of `example_scorer`), from the same
    forward passes."""
    raise NotImplementedError

  def example_scorer(self, model, config) -> Callable[..., dict]:
    """`fn(params, sets) -> {set: {name: array}}`: the per-example scores
    of `representations` on each `PairSet` (`evaluation.example_scores`)."""
    raise NotImplementedError

  def overall_score(self, metrics: dict, original: dict, *,
                    max_dt_drop: float) -> float:
    """MU-Bench's harmonic-mean score of `metrics` against the
    original's."""
    raise NotImplementedError

  def table(self, results) -> str:
    """The printed comparison of a results record's models."""
    raise NotImplementedError

  def add_retrain_referenced(self, evals: dict, scores: dict) -> None:
    """Adds to each model's metrics (`evals`, by model name) those that
    compare its per-example scores (`scores`, by model name) with the
    retrained model's (TOFU's forget quality); none by default."""
    del evals, scores

  def write_artifacts(self, exp, models: dict, directories) -> None:
    """Writes what the task shows besides results.json and scores.npz into
    each of `directories` (a text-to-image task's sample grid), from each
    model's parameters (`models`, by name); nothing by default."""
    del exp, models, directories

  def check_splits(self, data_config, splits: dict) -> None:
    """Checks (or measures) `config.data` against the indexed splits."""
    del data_config, splits

  # Read from the class attributes above; subclasses rarely override them.
  def headline_fractions(self, metrics: dict) -> dict:
    """The headline metrics of one model, as fractions."""
    return {m.name: metrics[m.name] / m.scale for m in self.headline}

  def split_scores(self, metrics: dict) -> dict:
    """`{"test", "df", "dr"}`: the task's score on each split, in %."""
    return {s: metrics[f"{s}/{self.score_metric}"]
            for s in ("test", "df", "dr")}

  def summary(self, evals: dict, method: str) -> dict:
    """How far the method moved the AUCs (`progress/<auc>`) and the test
    scores (`change/<metric>`, unlearned minus original); `evals` holds
    every model's metrics by model name."""
    out = {f"progress/{auc}": report.auc_progress_of(evals, auc, method)
           for auc in self.aucs}
    for name in self.changes:
      if name in evals["original"]:
        out[f"change/{name}"] = (evals[method][name]
                                 - evals["original"][name])
    return out

  def comparison_row(self, metrics: dict) -> dict:
    """What `unlearn.compare` ranks: `split_scores`, the re-ranked test
    score and the second AUC where the task has them (else None)."""
    rerank = (metrics.get(self.rerank_metric) if self.rerank_metric
              else None)
    return {**self.split_scores(metrics), "test_rerank": rerank,
            "auc_match": (metrics[f"{self.aucs[1]}/mean"]
                          if len(self.aucs) > 1 else None)}


def zeros_text(model_config) -> np.ndarray:
  """One all-padding text, for initialising a model."""
  return modalities.get("text").example_input(model_config, None)


def auc_samples(results) -> int:
  """How many disjoint Dr samples a results record's AUCs averaged."""
  return int(results.config.get("eval", {}).get("auc_num_samples", 5))

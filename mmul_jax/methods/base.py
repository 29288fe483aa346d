"""What a method is (`Method`), what it hands the unlearning loop (`Plan`)
and what the loop gives it (`Context`).

A method is a function `build(ctx) -> Plan`: a loss term over
`{"df": ..., "dr": ...}` batches, the frozen models the term compares
against besides the original, and optax transformations around the
optimiser. Everything else (batches, schedule, checkpoints, evaluation) is
the loop's, and the same for every method. Its `Method` record holds every
other fact about it: defaults, checks, flags and tuning grid.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import optax

from mmul_jax import losses
from mmul_jax import optim
from mmul_jax.tasks import model_terms

OPTIMIZERS = ("adamw", "sgd", "none")
PARTS = ("df", "dr")
# The default tuning budget (`Method.grid`): three learning rates.
LEARNING_RATES = (1e-4, 3e-4, 1e-3)
LR_GRID = tuple({"unlearn.learning_rate": lr} for lr in LEARNING_RATES)


def _no_problems(*args) -> list[str]:
  del args
  return []


def _needs_nothing(h) -> set[str]:
  del h
  return set()


@dataclasses.dataclass(frozen=True)
class Method:
  """Everything about a method, in one record (`methods.METHODS`).

  build: `build(ctx) -> Plan`.
  defaults: its hyperparameters `config.method.<name>` with their defaults
    (`config_schema.default_config` reads them).
  ranges: the search range of each tunable hyperparameter,
    `name -> (low, high, "log" | "linear")`.
  check: `check(h, config) -> problems` (one line each) before any compute.
  check_task: `check(h, task) -> problems` for the run's `tasks.Task`
    (MMUL needs two modalities).
  check_deletion: `check(h, config, num_forget) -> problems` once the
    deletion set is known (MMUL's derangement needs two deleted units).
  needs: `needs(h) -> data features it reads` ("labels", "captions").
  trains_task_loss: its loss includes the task loss (so the SuperLoss
    curriculum applies).
  full_weight: its optax transforms are shaped like every weight (a mask,
    noise), so it cannot train LoRA adapters.
  gradient_ascent: it ascends the task loss (MU-Bench's overall score then
    allows a 0.4 test-score drop instead of 0.2).
  grid: the settings `unlearn.compare` tries (dotted config keys).
  caution: what the method does to a model that no setting of its own
    prevents (gradient ascent without retention collapses it), printed
    as a warning whenever it runs; empty: nothing to warn about.
  unused: `unused(task, hparams=None) -> hyperparameters` that have no
    effect on that `tasks.Task` (a weight of a term the task lacks), or
    that the fixed `hparams` rule out: not searched there, and
    `check_task` refuses a nonzero value.
  kinds: the task kinds it runs on (`Task.name`: the language-model
    methods run on "generation" only); empty: every kind.
  reads_logits: it compares the models' answers as logits (KL, DELETE),
    so a task without them (`Task.has_logits`: a diffusion model) refuses
    it.
  in_state: the hyperparameters whose every value in `ranges` lands in
    state (a `weighted_sum` weight, an optimiser-state mask or noise
    scale), not in the plan's functions: tuning trials that differ only in
    them share one vmapped step (`tuning.search_space`); any other one splits a
    batch of trials.
  """

  build: Callable[["Context"], "Plan"]
  defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  ranges: Mapping[str, tuple] = dataclasses.field(default_factory=dict)
  check: Callable[..., list[str]] = _no_problems
  check_task: Callable[..., list[str]] = _no_problems
  check_deletion: Callable[..., list[str]] = _no_problems
  needs: Callable[..., set[str]] = _needs_nothing
  trains_task_loss: bool = False
  full_weight: bool = False
  gradient_ascent: bool = False
  grid: tuple[Mapping[str, Any], ...] = LR_GRID
  in_state: frozenset = frozenset()
  kinds: frozenset = frozenset()
  reads_logits: bool = False
  caution: str = ""
  unused: Callable[..., frozenset] = lambda task, hparams=None: frozenset()

  @property
  def hparams(self) -> tuple[str, ...]:
    """The names of its hyperparameters.

    Returns:
      The keys of `defaults`, in their order.
    """
    return tuple(self.defaults)

  def runs_on(self, kind: str) -> bool:
    """Whether it runs on tasks of kind `kind` (`kinds`)."""
    return not self.kinds or kind in self.kinds

  def task_problems(self, h, task) -> list[str]:
    """Why it cannot run on `task` (a `tasks.Task`) with hyperparameters
    `h`, one line each: a task kind outside `kinds`, else `check_task`'s
    problems."""
    if not self.runs_on(task.name):
      return [f"runs on {' and '.join(sorted(self.kinds))} tasks only, "
              f"not {task.name} (use a general method: finetune, "
              "neggrad_plus, npo, ...)"]
    if self.reads_logits and not task.has_logits:
      return [f"compares the models' logits, which task {task.name!r} (a "
              "diffusion model) has none of (use finetune, neggrad_plus, "
              "npo, randlabel or salun)"]
    return self.check_task(h, task)


@dataclasses.dataclass(frozen=True)
class Plan:
  """How to unlearn; see the module docstring.

  loss: the loss term (None only for `retrain`).
  frozen: frozen models besides the original, by name (Bad Teaching's
    "bad" teacher); the loss receives them with "original" (and "base"
    under LoRA) as one dict.
  gradient_transforms: applied to the gradients before the optimiser.
  optimizer: "adamw", "sgd" (the loop adds the schedule) or "none" (updates
    are zero; only `after` moves the parameters).
  after: applied to the optimiser's updates (projection, noise).
  num_steps: overrides `unlearn.num_steps` (e.g. 1 for one-shot methods).
  parts: which parts of the batch the loss reads; the loop loads only those.
  retrain: the method is retraining from scratch on Dr.
  info: numbers worth reporting (noise scale, mask size, ...).
  """

  loss: losses.LossTerm | None = None
  frozen: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  gradient_transforms: tuple[optax.GradientTransformation, ...] = ()
  optimizer: str = "adamw"
  after: tuple[optax.GradientTransformation, ...] = ()
  num_steps: int | None = None
  parts: tuple[str, ...] = PARTS
  retrain: bool = False
  info: dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f"optimizer must be one of {OPTIMIZERS}")
    if not self.parts or set(self.parts) - set(PARTS):
      raise ValueError(f"parts must be a non-empty subset of {PARTS}")
    if self.loss is None and not self.retrain:
      raise ValueError("a plan needs a loss term")


@dataclasses.dataclass
class Context:
  """What a method may use to build its plan.

  task: the run's `tasks.Task`; model: the Flax module; original: θ₀;
  config: the whole run config;
  hparams: `config.method.<name>`; init_params(seed): fresh parameters (a
  random teacher); batches(part): sharded batches of "df" or "dr" for a
  preparation pass; num_pairs: image-caption pairs in each part;
  held_out_sets(): `{"df": Df's pairs, "held_out": never-trained pairs}`
  for evaluation-style passes (the validation carve where the run has
  one, else the test split).
  """

  task: Any
  model: Any
  original: Any
  config: ml_collections.ConfigDict
  hparams: ml_collections.ConfigDict
  init_params: Callable[[int], Any]
  batches: Callable[[str], Iterator[dict]]
  num_pairs: dict[str, int]
  held_out_sets: Callable[[], dict] | None = None

  def task_loss(self, curriculum: bool = True) -> losses.LossTerm:
    """The task's training objective on a flat batch (retrieval: ITC + ITM
    with hard negatives, with the training ITM weight); SuperLoss-weighted
    when `unlearn.curriculum` says so (`curriculum=False` for the gradient
    statistics of SalUn and Fisher, which use the plain loss).

    Args:
      curriculum: apply the SuperLoss weighting when
        `config.unlearn.curriculum` is "superloss"; False gives the plain
        loss whatever the config says.

    Returns:
      A `losses.LossTerm` on a flat batch of one part ("df" or "dr"): the
      batch mean of the task loss, or SuperLoss's confidence-weighted
      mean.
    """
    u = self.config.unlearn
    lam = (float(u.superloss_lambda)
           if curriculum and u.curriculum == "superloss" else None)
    return self.task.task_term(
        self.model, itm_weight=self.config.train.itm_weight,
        superloss_lambda=lam)


def with_retain(ctx: Context, forget: losses.LossTerm,
                retain: losses.LossTerm) -> Plan:
  """`forget` on Df, plus `retain_weight` x `retain` on Dr when the
  weight is > 0 (NPO+RT's form; Df only otherwise)."""
  w = float(ctx.hparams.retain_weight)
  if w == 0.0:
    return Plan(loss=losses.on_forget(forget), parts=("df",))
  return Plan(loss=losses.weighted_sum(
      {"forget": losses.on_forget(forget),
       "retain": losses.on_retain(retain)},
      weights={"forget": 1.0, "retain": w}))


def no_second_order(config) -> list[str]:
  """For methods whose plan makes no optimiser steps (noise only): the
  problem with `unlearn.second_order=sophia`, which has nothing to
  replace (the loop refuses such a plan too).

  Args:
    config: the run config; `config.unlearn.second_order` is read.

  Returns:
    A list of problems, one line each: empty when `second_order` is
    "none", else the one problem.
  """
  if config.unlearn.second_order == "none":
    return []
  return ["makes no optimiser steps (it only adds noise), so "
          "unlearn.second_order=sophia has nothing to change; set "
          "unlearn.second_order=none"]


def require_numbers(h, keys, *, minimum: float,
                    exclusive: bool = False) -> list[str]:
  """For the methods' `check` functions: one problem per hyperparameter in
  `keys` that is not a number >= `minimum` (> `minimum` if `exclusive`).

  Args:
    h: the method's hyperparameters, `config.method.<name>`.
    keys: the names of the hyperparameters to check.
    minimum: the lowest value allowed.
    exclusive: if True, `minimum` itself is not allowed.

  Returns:
    A list of problems, one line per failing hyperparameter (empty when
    all pass).
  """
  op = ">" if exclusive else ">="
  return [f"{k} must be a number {op} {minimum:g}" for k in keys
          if not isinstance(h[k], (int, float))
          or (h[k] <= minimum if exclusive else h[k] < minimum)]


def require_integers(h, keys, *, minimum: int) -> list[str]:
  """One problem per hyperparameter in `keys` not an integer >= `minimum`.

  Args:
    h: the method's hyperparameters, `config.method.<name>`.
    keys: the names of the hyperparameters to check.
    minimum: the lowest value allowed.

  Returns:
    A list of problems, one line per failing hyperparameter (empty when
    all pass).
  """
  return [f"{k} must be an integer >= {minimum}" for k in keys
          if not isinstance(h[k], int) or h[k] < minimum]


def gradient_statistic(ctx: Context, term: losses.LossTerm, part: str, *,
                       num_batches: int,
                       fn: Callable[[jax.Array], jax.Array]):
  """mean over `num_batches` batches of `fn(∇θ term)` at θ₀ (one jit).

  `term` reads the flat batch of `part`. SalUn's saliency uses `fn=abs`,
  the diagonal empirical Fisher `fn=square`.

  Args:
    ctx: the method's `Context`: θ₀ (`ctx.original`), the seed and the
      batches.
    term: the loss term whose gradient is taken, at θ₀.
    part: which batches it reads, "df" or "dr".
    num_batches: how many batches of `part` to average over.
    fn: applied elementwise to each gradient leaf before averaging.

  Returns:
    A pytree shaped like the trainable parameters (`optim.trainable`: no
    batch-norm statistics): the mean of `fn(∇θ term)` over the batches.
  """
  rng = jax.random.key(ctx.config.seed)

  @jax.jit
  def stat(params, batch, k):
    def loss(p):
      value, _, _ = term.apply(term.init(p), p,
                               {model_terms.ORIGINAL: ctx.original}, batch,
                               rng=jax.random.fold_in(rng, k))
      return value
    return jax.tree.map(fn, optim.trainable(jax.grad(loss)(params)))

  total = None
  batches = ctx.batches(part)
  for k in range(num_batches):
    s = stat(ctx.original, next(batches), k)
    total = s if total is None else jax.tree.map(jnp.add, total, s)
  return jax.tree.map(lambda x: x / num_batches, total)

"""What a method hands the unlearning loop, and what the loop gives it.

A method is a function `build(ctx) -> Plan`: a loss term over
`{"df": ..., "dr": ...}` batches, the frozen model(s) the term compares
against, and optax transformations around the optimiser. Everything else
(batches, schedule, checkpoints, evaluation) is the loop's, and the same for
every method.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import optax

from mmul_jax import losses
from mmul_jax.training import objective

OPTIMIZERS = ("adamw", "sgd", "none")
PARTS = ("df", "dr")


@dataclasses.dataclass(frozen=True)
class Plan:
  """How to unlearn; see the module docstring.

  loss: the loss term (None only for `retrain`).
  frozen: what the loss receives as `frozen_params` (default: the original).
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
  frozen: Any = None
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

  model: the Flax module; original: θ₀; config: the whole run config;
  hparams: `config.method.<name>`; init_params(seed): fresh parameters (a
  random teacher); batches(part): sharded batches of "df" or "dr" for a
  preparation pass; num_pairs: image-caption pairs in each part.
  """

  model: Any
  original: Any
  config: ml_collections.ConfigDict
  hparams: ml_collections.ConfigDict
  init_params: Callable[[int], Any]
  batches: Callable[[str], Iterator[dict]]
  num_pairs: dict[str, int]

  def task(self, curriculum: bool = True) -> losses.LossTerm:
    """The model's training objective (ITC + ITM with hard negatives) on a
    flat batch, with the training ITM weight; SuperLoss-weighted when
    `unlearn.curriculum` says so (`curriculum=False` for the gradient
    statistics of SalUn and Fisher, which use the plain loss)."""
    u = self.config.unlearn
    lam = (float(u.superloss_lambda)
           if curriculum and u.curriculum == "superloss" else None)
    return objective.pretrain_term(
        self.model, itm_weight=self.config.train.itm_weight,
        superloss_lambda=lam)


def require_numbers(h, keys, *, minimum: float,
                    exclusive: bool = False) -> list[str]:
  """For the methods' `check` functions: one problem per hyperparameter in
  `keys` that is not a number >= `minimum` (> `minimum` if `exclusive`)."""
  op = ">" if exclusive else ">="
  return [f"{k} must be a number {op} {minimum:g}" for k in keys
          if not isinstance(h[k], (int, float))
          or (h[k] <= minimum if exclusive else h[k] < minimum)]


def require_integers(h, keys, *, minimum: int) -> list[str]:
  """One problem per hyperparameter in `keys` not an integer >= `minimum`."""
  return [f"{k} must be an integer >= {minimum}" for k in keys
          if not isinstance(h[k], int) or h[k] < minimum]


def gradient_statistic(ctx: Context, term: losses.LossTerm, part: str, *,
                       num_batches: int,
                       fn: Callable[[jax.Array], jax.Array]):
  """mean over `num_batches` batches of `fn(∇θ term)` at θ₀ (one jit).

  `term` reads the flat batch of `part`. SalUn's saliency uses `fn=abs`,
  the diagonal empirical Fisher `fn=square`.
  """
  rng = jax.random.key(ctx.config.seed)

  @jax.jit
  def stat(params, batch, k):
    def loss(p):
      value, _, _ = term.apply(term.init(p), p, ctx.original, batch,
                               rng=jax.random.fold_in(rng, k))
      return value
    return jax.tree.map(fn, jax.grad(loss)(params))

  total = None
  batches = ctx.batches(part)
  for k in range(num_batches):
    s = stat(ctx.original, next(batches), k)
    total = s if total is None else jax.tree.map(jnp.add, total, s)
  return jax.tree.map(lambda x: x / num_batches, total)

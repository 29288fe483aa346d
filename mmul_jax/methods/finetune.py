"""Retraining and fine-tuning on the retained data.

* `retrain`: train from scratch on Dr with the original recipe: the gold
  standard every method is compared to. The reference MultiDelete started it
  from *pretrained* weights (spec §2.1); ours starts from the same random
  initialisation as the original model.
* `finetune` ("FT" in MultiDelete and MU-Bench): continue training the
  original on Dr with the task loss. The reference restored the original
  run's Adam state; ours starts a fresh optimiser, like every method here.
* `l1_sparse` (Jia et al., "Model Sparsity Can Simplify Machine Unlearning",
  NeurIPS 2023): fine-tuning on Dr plus α_t ‖θ‖₁ with α_t decaying linearly
  from α to 0 over the first `num_steps - no_l1_steps` steps (the paper's
  per-epoch decay, by step). MU-Bench read α from fields that do not exist,
  so its version was plain fine-tuning on the full D (spec §2.2).
"""

from __future__ import annotations

import optax

from mmul_jax import losses
from mmul_jax.methods import base
from mmul_jax.methods import terms


def build_retrain(ctx: base.Context) -> base.Plan:
  """Retraining from scratch on Dr with the original recipe (see above)."""
  del ctx
  return base.Plan(retrain=True)


def build_finetune(ctx: base.Context) -> base.Plan:
  """Fine-tuning on Dr (MultiDelete's and MU-Bench's FT; see above)."""
  return base.Plan(loss=losses.on_retain(ctx.task_loss()), parts=("dr",))


def l1_weight(*, alpha: float, num_steps: int,
              no_l1_steps: int) -> optax.Schedule:
  """α_t: linear from α at step 0 to 0 at `num_steps - no_l1_steps`."""
  return optax.linear_schedule(alpha, 0.0,
                               max(num_steps - no_l1_steps, 1))


def build_l1_sparse(ctx: base.Context) -> base.Plan:
  """ℓ1-sparse (Jia et al., NeurIPS 2023); departures above."""
  h = ctx.hparams
  weight = l1_weight(alpha=float(h.alpha),
                     num_steps=ctx.config.unlearn.num_steps,
                     no_l1_steps=int(h.no_l1_steps))
  loss = losses.weighted_sum(
      {"retain": losses.on_retain(ctx.task_loss()), "l1": terms.l1_penalty()},
      weights={"retain": 1.0, "l1": weight})
  return base.Plan(loss=loss, parts=("dr",))


def check_l1_sparse(h, config) -> list[str]:
  problems = base.require_numbers(h, ("alpha",), minimum=0)
  if not isinstance(h.no_l1_steps, int) or not (
      0 <= h.no_l1_steps < config.unlearn.num_steps):
    problems.append("no_l1_steps must be an integer in "
                    "[0, unlearn.num_steps)")
  return problems


RETRAIN = base.Method(build_retrain, grid=({},))  # nothing to tune
FINETUNE = base.Method(build_finetune, trains_task_loss=True)
L1_SPARSE = base.Method(
    build_l1_sparse, dict(alpha=5e-4, no_l1_steps=0),
    ranges={"alpha": (1e-5, 1e-2, "log")}, check=check_l1_sparse,
    trains_task_loss=True)

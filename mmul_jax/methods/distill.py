"""Teacher-student methods: Bad Teaching, SCRUB, DELETE.

All three distil the model's answers, which for retrieval are the in-batch
caption and image scores and the matching head's logits
(`terms.retrieval_logits`), with proper log-probabilities and a temperature.
The reference code passed raw logits as both arguments of `KLDivLoss`, which
is not a KL divergence (spec §2.2).

* `bad_teaching` (Chundawat et al., "Can Bad Teaching Induce Forgetting?",
  AAAI 2023): KL to the original model on Dr and to a randomly initialised
  ("incompetent") teacher on Df, L = KL(θ₀ ‖ θ; Dr) + w KL(θ_rand ‖ θ; Df)
  (w = `forget_weight`). The paper's w = 1 took the demo's test R@1 from
  29.2 to 15.6 in 100 steps at lr 3e-4; our default 0.03 is the largest of
  {0.3, 0.1, 0.03, 0.01} that kept Dr R@1 within 5 points
  (docs/method_defaults.md).
  Every step sees a Df and a Dr batch (the paper mixes them in one batch;
  MU-Bench's Dr subset could contain Df items, which cannot happen here).
* `scrub` (Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS
  2023): max steps on Df, L = −KL(θ₀ ‖ θ; Df), alternate with min steps on
  Dr, L = γ L_task(Dr) + α KL(θ₀ ‖ θ; Dr). Per period of `period` steps the
  first `max_steps` are max steps, for the first `max_periods` periods (the
  paper's `msteps` epochs of max steps interleaved at the start of each
  epoch); afterwards only min steps. Defaults: τ = 4, γ = 0.99, α = 0.001
  as in the SCRUB code; 2 max steps per period of 20 (4 took the demo's
  Dr R@1 down 9 points; docs/method_defaults.md). MU-Bench ran two sequential phases, halved the epochs
  twice and had no temperature or weights.
* `delete` (Zhou et al., "Decoupled Distillation to Erase", CVPR 2025): on
  Df, KL to the original with the true answers masked out of its logits
  (`mask_value` added), so the model keeps the teacher's ranking of the
  other candidates and loses the true one. MU-Bench trained it on the full D
  for classification; here it reads Df only.
"""

from __future__ import annotations

import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.methods import base
from mmul_jax.methods import terms


def build_bad_teaching(ctx: base.Context) -> base.Plan:
  """Bad Teaching (Chundawat et al., AAAI 2023); departures above."""
  h = ctx.hparams
  tau = float(h.temperature)
  loss = losses.weighted_sum(
      {"retain": losses.on_retain(terms.distillation(
          ctx.task, ctx.model, temperature=tau)),
       "forget": losses.on_forget(terms.distillation(
           ctx.task, ctx.model, temperature=tau, teacher="bad"))},
      weights={"retain": 1.0, "forget": float(h.forget_weight)})
  return base.Plan(loss=loss,
                   frozen={"bad": ctx.init_params(int(h.teacher_seed))})


def scrub_phase(*, period: int, max_steps: int, max_periods: int):
  """step -> 0 for a max step, 1 for a min step."""
  def select(step):
    is_max = (step % period < max_steps) & (step < period * max_periods)
    return jnp.where(is_max, 0, 1)
  return select


def build_scrub(ctx: base.Context) -> base.Plan:
  """SCRUB (Kurmanji et al., NeurIPS 2023) with alternating steps."""
  h = ctx.hparams
  kl = terms.distillation(ctx.task, ctx.model,
                          temperature=float(h.temperature))
  max_step = losses.negate(losses.on_forget(kl))
  min_step = losses.weighted_sum(
      {"task": losses.on_retain(ctx.task_loss()), "kl": losses.on_retain(kl)},
      weights={"task": float(h.task_weight), "kl": float(h.kl_weight)})
  loss = losses.alternate(
      [max_step, min_step],
      select=scrub_phase(period=int(h.period), max_steps=int(h.max_steps),
                         max_periods=int(h.max_periods)))
  return base.Plan(loss=loss)


def build_delete(ctx: base.Context) -> base.Plan:
  """DELETE (Zhou et al., CVPR 2025) on Df; departures above."""
  h = ctx.hparams
  loss = losses.on_forget(terms.decoupled_distillation(
      ctx.task, ctx.model, temperature=float(h.temperature),
      mask_value=float(h.mask_value)))
  return base.Plan(loss=loss, parts=("df",))


def _check_temperature(h) -> list[str]:
  return base.require_numbers(h, ("temperature",), minimum=0, exclusive=True)


def check_bad_teaching(h, config) -> list[str]:
  del config
  problems = _check_temperature(h)
  problems += base.require_numbers(h, ("forget_weight",), minimum=0)
  if not isinstance(h.teacher_seed, int):
    problems.append("teacher_seed must be an integer")
  return problems


def check_scrub(h, config) -> list[str]:
  del config
  problems = _check_temperature(h)
  problems += base.require_numbers(h, ("task_weight", "kl_weight"), minimum=0)
  problems += base.require_integers(
      h, ("period", "max_steps", "max_periods"), minimum=0)
  if not problems and not (h.max_steps <= h.period and h.period > 0):
    problems.append("need 0 < period and max_steps <= period")
  return problems


def check_delete(h, config) -> list[str]:
  del config
  problems = _check_temperature(h)
  if not isinstance(h.mask_value, (int, float)) or h.mask_value >= 0:
    problems.append("mask_value must be a negative number")
  return problems


_TEMPERATURE = {"temperature": (0.5, 8.0, "log")}
BAD_TEACHING = base.Method(
    build_bad_teaching, dict(temperature=1.0, teacher_seed=1,
                             forget_weight=0.03),
    ranges={**_TEMPERATURE, "forget_weight": (0.01, 1.0, "log")},
    in_state=frozenset({"forget_weight"}), check=check_bad_teaching,
    reads_logits=True)
SCRUB = base.Method(
    build_scrub, dict(temperature=4.0, task_weight=0.99, kl_weight=0.001,
                      period=20, max_steps=2, max_periods=3),
    ranges={**_TEMPERATURE, "kl_weight": (1e-4, 1.0, "log")},
    in_state=frozenset({"kl_weight"}),
    check=check_scrub, trains_task_loss=True, reads_logits=True)
DELETE = base.Method(
    build_delete, dict(temperature=1.0, mask_value=-1e9),
    ranges=_TEMPERATURE, check=check_delete, reads_logits=True,
    caution=("it reads Df only, with nothing holding Dr (the demo's test "
             "R@1 went from 29.2 to 13.9, 15.4 at lr 1e-4; "
             "docs/method_defaults.md); lower unlearn.num_steps or "
             "evaluate as it goes (unlearn.eval_every with "
             "unlearn.early_stopping=retrain_gap)"))

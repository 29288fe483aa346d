"""ESD, erasing a concept with negative guidance (Gandikota et al., "Erasing
Concepts from Diffusion Models", ICCV 2023), on a text-to-image model.

On Df, for a noisy image x_t of a deleted pair at a random timestep, the
model conditioned on the deleted caption c learns the original's
prediction guided away from c:

    L_ESD = ‖ε_θ(x_t, c, t) − [ε_θ₀(x_t, t) − η (ε_θ₀(x_t, c, t) − ε_θ₀(x_t, t))]‖²

(ε_θ₀(x_t, t): the original under the null context; η the negative
guidance, 1.0 here, 2.0 in common ports of the paper's code). ESD draws
x_t by partly sampling from the model; here x_t is a Df image noised by
the forward process, as concept-erasure ports for instance-level
deletion do. `retain_weight` w > 0 adds w times the denoising loss on
Dr. `params` picks the weights that move: "all" (every weight, the text
tower's too), "cross_attention" (the paper's ESD-x: the UNet's
cross-attention projections only, for a prompt-specific erasure) or
"unconditional" (ESD-u: every UNet weight but the cross-attention, the
text tower and null context frozen, for a global one); the others get
no update at all (weight decay included).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from mmul_jax import errors
from mmul_jax import gradient_transforms
from mmul_jax import optim
from mmul_jax.methods import base

SUBSETS = ("all", "cross_attention", "unconditional")


def _moves(path, subset: str) -> bool:
  """Whether the weight at `path` (a parameter tree path) trains."""
  names = [str(getattr(k, "key", k)) for k in path]
  cross = any(n.startswith("cross_") for n in names)
  if subset == "cross_attention":
    return cross
  return "unet" in names and not cross


def parameter_mask(params, subset: str):
  """1 for the weights `subset` trains, 0 elsewhere (shaped like the
  trainable parameters)."""
  return jax.tree_util.tree_map_with_path(
      lambda path, x: jnp.full(jnp.shape(x), float(_moves(path, subset)),
                               jnp.float32), optim.trainable(params))


def build(ctx: base.Context) -> base.Plan:
  plan = base.with_retain(
      ctx, ctx.task.esd_term(ctx.model, eta=float(ctx.hparams.eta)),
      ctx.task_loss())
  subset = ctx.hparams.params
  if subset == "all":
    return plan
  mask = parameter_mask(ctx.original, subset)
  kept = sum(float(m.sum()) for m in jax.tree.leaves(mask))
  if not kept:
    raise errors.ConfigError(
        f"method.esd.params = {subset!r} selects no weight of this model "
        "(it has no UNet cross-attention); use 'all'")
  total = sum(m.size for m in jax.tree.leaves(mask))
  only = gradient_transforms.mask_updates(mask)
  # Before the optimiser (clipping sees the trained weights only) and
  # after it (weight decay moves no frozen weight).
  return dataclasses.replace(plan, gradient_transforms=(only,),
                             after=(only,),
                             info={"trained_fraction": kept / total})


def check(h, config) -> list[str]:
  problems = (base.require_numbers(h, ("eta",), minimum=0.0)
              + base.require_numbers(h, ("retain_weight",), minimum=0.0))
  if h.params not in SUBSETS:
    problems.append(f"params must be one of {SUBSETS}, got {h.params!r}")
  u = config.unlearn
  if h.params != "all" and (u.lora_rank or u.lora_fraction):
    problems.append(
        f"params = {h.params!r} picks the UNet's own weights, but under "
        "LoRA (unlearn.lora_rank / lora_fraction) only the adapters train; "
        "use params='all' with LoRA, or turn LoRA off")
  return problems


ESD = base.Method(
    build, dict(eta=1.0, retain_weight=1.0, params="all"),
    ranges={"eta": (0.5, 4.0, "linear"),
            "retain_weight": (0.0, 10.0, "linear")},
    check=check, kinds=frozenset({"text_to_image"}))

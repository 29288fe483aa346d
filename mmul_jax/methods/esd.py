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
Dr. ESD trains every weight (the paper's ESD-x only the cross-attention,
ESD-u the rest; LoRA or a mask can narrow it).
"""

from __future__ import annotations

from mmul_jax.methods import base


def build(ctx: base.Context) -> base.Plan:
  return base.with_retain(
      ctx, ctx.task.esd_term(ctx.model, eta=float(ctx.hparams.eta)),
      ctx.task_loss())


def check(h, config) -> list[str]:
  del config
  return (base.require_numbers(h, ("eta",), minimum=0.0)
          + base.require_numbers(h, ("retain_weight",), minimum=0.0))


ESD = base.Method(
    build, dict(eta=1.0, retain_weight=1.0),
    ranges={"eta": (0.5, 4.0, "linear"),
            "retain_weight": (0.0, 10.0, "linear")},
    check=check, kinds=frozenset({"text_to_image"}))

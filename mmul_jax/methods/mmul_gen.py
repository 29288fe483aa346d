"""MMUL for image-conditioned generative models (`mmul_gen`): MMUL's
modality decoupling, unimodal and multimodal retention on answer
distributions instead of embeddings (`tasks.image_generation_terms`),
composed with the same loss-term algebra as `mmul`:

    L = λ_md L_MD(Df) + λ_vision L_vision(Df) + λ_text L_text(Dr)
        + λ_mkr L_MKR(Dr)

A term with weight 0 is left out and not computed (an ablation is a
config change), as in `mmul`.
"""

from __future__ import annotations

from mmul_jax import losses
from mmul_jax.methods import base

_PLACED = {"md": lambda t: t, "vision": losses.on_forget,
           "text": losses.on_retain, "mkr": losses.on_retain}
_READS = {"md": "df", "vision": "df", "text": "dr", "mkr": "dr"}


def _weights(h) -> dict[str, float]:
  return {k: float(h[f"{k}_weight"]) for k in _PLACED}


def build(ctx: base.Context) -> base.Plan:
  """`mmul_gen` from `config.method.mmul_gen`; see above."""
  used = {k: w for k, w in _weights(ctx.hparams).items() if w}
  made = ctx.task.mmul_gen_terms(ctx.model)._asdict()
  term = losses.weighted_sum({k: _PLACED[k](made[k]) for k in used},
                             weights=used)
  parts = {_READS[k] for k in used}
  return base.Plan(loss=term,
                   parts=tuple(p for p in base.PARTS if p in parts))


def check(h, config) -> list[str]:
  del config
  names = tuple(f"{k}_weight" for k in _PLACED)
  problems = base.require_numbers(h, names, minimum=0)
  if not problems and not any(_weights(h).values()):
    problems.append(f"all loss weights are 0; set at least one of "
                    f"{', '.join(names)}")
  return problems


def check_deletion(h, config, num_forget: int) -> list[str]:
  del config
  if h.md_weight and num_forget < 2:
    return ["modality decoupling swaps a deleted person's context for "
            f"another deleted person's: it needs 2 deleted persons, the "
            f"deletion set has {num_forget}; raise deletion.ratio"]
  return []


_WEIGHT = (0.1, 100.0, "log")
MMUL_GEN = base.Method(
    build, dict(md_weight=1.0, vision_weight=1.0, text_weight=1.0,
                mkr_weight=1.0),
    ranges={f"{k}_weight": _WEIGHT for k in _PLACED},
    in_state=frozenset(f"{k}_weight" for k in _PLACED),
    check=check, check_deletion=check_deletion,
    kinds=frozenset({"image_generation"}))

"""MMUL / MultiDelete for image-text retrieval and classification models.

Implements Cheng & Amiri, "Multimodal Machine Unlearning" (2023; ECCV 2024 as
"MultiDelete"), following the reference spec §1.4 (a) for retrieval and
(b, c) for NLVR2 / SNLI-VE models (each task's `Task.mmul_terms`:
`tasks/retrieval_terms.py`, `tasks/classification_terms.py`), as a
weighted sum of three loss terms:

    L = λ_md L_MD(Df) + λ_ukr L_UKR(Df) + λ_mkr L_MKR(Dr)

Departures from the reference code, which are the spec's fixes:

* negatives for modality decoupling come from a derangement that never pairs
  an image with one of its own captions (the reference used `randperm`, whose
  fixed points are true pairs), drawn from the deleted batch or, optionally,
  from retained captions;
* unimodal retention is on the deleted items, for image and text (the
  reference code was broken here);
* the three weights are configurable (the reference hard-codes 1 and ignores
  `--alpha`); a term with weight 0 is left out and not computed, so any
  subset of the terms (an ablation) is a config change.
"""

from __future__ import annotations

from mmul_jax import losses
from mmul_jax.methods import base
from mmul_jax.tasks import model_terms

NEGATIVE_SOURCES = model_terms.NEGATIVE_SOURCES


def loss(task, model, *, md_weight: float = 1.0, ukr_weight: float = 1.0,
         mkr_weight: float = 1.0, negative_source: str = "df",
         axis_name: str | None = None) -> losses.LossTerm:
  """MMUL's loss term over `{"df": ..., "dr": ...}` batches, from the
  task's three terms (`Task.mmul_terms`; a unimodal task refuses)."""
  model_terms.check_negative_source(negative_source)
  weights = {"md": md_weight, "ukr": ukr_weight, "mkr": mkr_weight}
  used = {k: w for k, w in weights.items() if w}
  if not used:
    raise ValueError("MMUL needs at least one loss term with nonzero weight")
  made = task.mmul_terms(model, negative_source=negative_source,
                         axis_name=axis_name)
  placed = {"md": made.md, "ukr": losses.on_forget(made.ukr),
            "mkr": losses.on_retain(made.mkr)}
  term = losses.weighted_sum({k: placed[k] for k in used}, weights=used)
  if "md" in used and "ukr" in used and made.share is not None:
    # Both read the Df representations: compute them once.
    term = losses.precompute(term, made.share)
  return term


def parts_read(h) -> tuple[str, ...]:
  """The batch parts the configured terms read."""
  need = set()
  if h.md_weight:
    need |= {"df"} | ({"dr"} if h.negative_source == "dr" else set())
  if h.ukr_weight:
    need.add("df")
  if h.mkr_weight:
    need.add("dr")
  return tuple(p for p in base.PARTS if p in need)


def build(ctx: base.Context) -> base.Plan:
  """MMUL (Cheng & Amiri) from `config.method.mmul`; see above."""
  h = ctx.hparams
  return base.Plan(
      loss=loss(ctx.task, ctx.model, md_weight=float(h.md_weight),
                ukr_weight=float(h.ukr_weight),
                mkr_weight=float(h.mkr_weight),
                negative_source=h.negative_source),
      parts=parts_read(h))


def check(h, config) -> list[str]:
  problems = base.require_numbers(
      h, ("md_weight", "ukr_weight", "mkr_weight"), minimum=0)
  if not problems and h.md_weight == h.ukr_weight == h.mkr_weight == 0:
    problems.append("all loss weights are 0; set at least one of "
                    "md_weight, ukr_weight, mkr_weight")
  if h.negative_source not in NEGATIVE_SOURCES:
    problems.append(f"negative_source must be one of "
                    f"{list(NEGATIVE_SOURCES)}")
  elif h.negative_source == "dr" and (config.unlearn.dr_batch_size
                                      < config.unlearn.df_batch_size):
    problems.append("negative_source='dr' needs "
                    "unlearn.dr_batch_size >= unlearn.df_batch_size")
  return problems


def check_task(h, task) -> list[str]:
  del h
  if task.name == "image_generation":
    return ["MMUL's retrieval losses do not apply to a generative model; "
            "use method.name = 'mmul_gen' (its three properties on answer "
            "distributions)"]
  if not task.has_logits:
    return [f"MMUL's retrieval losses do not apply to task {task.name!r} "
            "(a diffusion model); use finetune, neggrad_plus, npo, "
            "randlabel or salun"]
  if not task.supports_mmul:
    return [f"MMUL needs two modalities; task {task.name!r} has one (use "
            "a unimodal method: finetune, neggrad, randlabel, salun, scrub, "
            "...)"]
  return []


def check_deletion(h, config, num_forget: int) -> list[str]:
  del config
  if h.md_weight and h.negative_source == "df" and num_forget < 2:
    return ["modality decoupling with negatives from Df needs at least 2 "
            f"deleted images, the deletion set has {num_forget}; raise "
            "deletion.ratio or set method.mmul.negative_source='dr'"]
  return []


_WEIGHT = (0.1, 100.0, "log")
MMUL = base.Method(
    build, dict(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0,
                negative_source="df"),
    ranges={"md_weight": _WEIGHT, "ukr_weight": _WEIGHT,
            "mkr_weight": _WEIGHT},
    in_state=frozenset({"md_weight", "ukr_weight", "mkr_weight"}),
    check=check, check_task=check_task, check_deletion=check_deletion)

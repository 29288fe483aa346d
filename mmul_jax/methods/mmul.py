"""MMUL / MultiDelete for image-text retrieval models.

Implements Cheng & Amiri, "Multimodal Machine Unlearning" (2023; ECCV 2024 as
"MultiDelete"), following the reference spec §1.4(a) with its fixes:

* negatives for modality decoupling come from a derangement that never pairs
  an image with one of its own captions (the reference used `randperm`, whose
  fixed points are true pairs), drawn from the deleted batch or, optionally,
  from retained captions;
* unimodal retention is on the deleted items, for image and text (the
  reference code was broken here);
* the three terms have configurable weights (the reference hard-codes 1 and
  ignores `--alpha`), and a term with weight 0 is not computed at all, so an
  ablation is a config change.

The model being unlearned runs in training mode (dropout on), the frozen
original in inference mode, as in the reference.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from mmul_jax.losses import _mmul

NEGATIVE_SOURCES = ("df", "dr")


def make_loss(model, *, md_weight: float = 1.0, ukr_weight: float = 1.0,
              mkr_weight: float = 1.0,
              negative_source: str = "df") -> Callable[..., Any]:
  """`loss(params, frozen_params, batch, rng) -> (scalar, aux)`.

  `batch = {"df": {...}, "dr": {...}}`, each with `image` `(B, H, W, 3)`,
  `text` `(B, L)` and `image_id` `(B,)`.
  """
  if negative_source not in NEGATIVE_SOURCES:
    raise ValueError(f"negative_source must be one of {NEGATIVE_SOURCES}, "
                     f"got {negative_source!r}")
  if md_weight == ukr_weight == mkr_weight == 0:
    raise ValueError("MMUL needs at least one loss term with nonzero weight")

  def student(params, method, *args, rng):
    return model.apply(params, *args, train=True, method=method,
                       rngs={"dropout": rng})

  def frozen(params, method, *args):
    return jax.lax.stop_gradient(
        model.apply(params, *args, train=False, method=method))

  def loss_fn(params, frozen_params, batch, rng):
    df, dr = batch["df"], batch["dr"]
    k_perm, k_img, k_txt, k_dr = jax.random.split(rng, 4)
    total = jnp.zeros((), jnp.float32)
    aux = {}
    if md_weight or ukr_weight:
      img = student(params, model.encode_image, df["image"],
                    rng=k_img)["image_embed"]
      txt = student(params, model.encode_text, df["text"],
                    rng=k_txt)["text_embed"]
      img0 = frozen(frozen_params, model.encode_image,
                    df["image"])["image_embed"]
      txt0 = frozen(frozen_params, model.encode_text,
                    df["text"])["text_embed"]
    if md_weight:
      if negative_source == "df":
        perm, valid = _mmul.derangement(k_perm, df["image_id"])
        neg_txt0 = txt0[perm]
        aux["derangement_valid"] = valid
      else:
        dr_txt0 = frozen(frozen_params, model.encode_text,
                         dr["text"])["text_embed"]
        pick = jax.random.permutation(k_perm, dr_txt0.shape[0])
        neg_txt0 = dr_txt0[pick[:img.shape[0]]]
      md = _mmul.modality_decoupling(img @ txt.T, img0 @ neg_txt0.T)
      aux["md"] = jnp.mean(md)
      total += md_weight * aux["md"]
      aux["df_pair_sim"] = jnp.mean(jnp.sum(img * txt, -1))
    if ukr_weight:
      ukr = _mmul.unimodal_retention((img, txt), (img0, txt0))
      aux["ukr"] = jnp.mean(ukr)
      total += ukr_weight * aux["ukr"]
    if mkr_weight:
      fused = student(params, model.__call__, dr["image"], dr["text"],
                      rng=k_dr)["fusion_cls"]
      fused0 = frozen(frozen_params, model.__call__, dr["image"],
                      dr["text"])["fusion_cls"]
      aux["mkr"] = jnp.mean(_mmul.multimodal_retention(fused, fused0))
      total += mkr_weight * aux["mkr"]
    return total, aux

  return loss_fn

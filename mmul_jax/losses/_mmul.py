"""MMUL's three losses (Cheng & Amiri, "Multimodal Machine Unlearning").

Representation-level, pure functions: they take what the model being
unlearned (θ) and the frozen original (θ₀) produced and return per-example
values of shape `(B,)` whose batch mean is the loss of the paper. The
distance is the mean squared error over features, as in the reference code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _mse_rows(x: jax.Array, y: jax.Array) -> jax.Array:
  d = (x.astype(jnp.float32) - y.astype(jnp.float32)) ** 2
  return d.reshape(d.shape[0], -1).mean(-1)


def derangement(rng: jax.Array, ids: jax.Array) -> tuple[jax.Array, jax.Array]:
  """A random permutation π that never maps an item onto the same id.

  Items are put in a random order in which equal ids are contiguous (random
  group order, random order inside a group); position k is then paired with
  position k + m (mod B), where m is the largest group. A group of size
  s ≤ m spans at most m consecutive positions, so k and k + m belong to
  different groups whenever 2m ≤ B. With unique ids this is a uniformly
  random single cycle (not uniform over all derangements). Returns `(perm, valid)`: text `perm[i]`
  becomes the negative partner of image `i`; `valid` is False when no such
  permutation exists (one id holds more than half the batch).
  """
  b = ids.shape[0]
  k_group, k_item = jax.random.split(rng)
  group_key = jax.vmap(
      lambda i: jax.random.uniform(jax.random.fold_in(k_group, i)))(ids)
  item_key = jax.random.uniform(k_item, (b,))
  order = jnp.lexsort((item_key, group_key))
  largest = jnp.max(jnp.sum(ids[:, None] == ids[None, :], axis=1))
  partner = order[(jnp.arange(b) + largest) % b]
  perm = jnp.zeros((b,), jnp.int32).at[order].set(partner.astype(jnp.int32))
  return perm, 2 * largest <= b


def modality_decoupling(sim: jax.Array, target_sim: jax.Array) -> jax.Array:
  """L_MD per deleted example; `sim`, `target_sim`: `(B, B)` cosines.

  sim = V_θ T_θᵀ on the deleted batch (image i, caption j); target_sim =
  V_θ₀ T'_θ₀ᵀ where T' are unrelated captions (a derangement of the batch, or
  retained captions). L_MD = MSE(S, S') + MSE(Sᵀ, S'ᵀ): the i2t and t2i
  views, so per example i it is the mean over j of row i plus column i.
  Pulls each deleted pair towards the similarity that the original model
  gives an unrelated pair.
  """
  sq = (sim.astype(jnp.float32) - target_sim.astype(jnp.float32)) ** 2
  return sq.mean(axis=1) + sq.mean(axis=0)


def unimodal_retention(embeds: tuple[jax.Array, ...],
                       frozen_embeds: tuple[jax.Array, ...]) -> jax.Array:
  """L_UKR per deleted example: Σ_m MSE(e_m,θ, e_m,θ₀) over modalities m.

  Keeps each modality's own representation of the deleted items (for
  retrieval: the image and the text embedding; for classification tasks: the
  image token sequence) where the original model had it.
  """
  if len(embeds) != len(frozen_embeds):
    raise ValueError("one frozen embedding per embedding is needed")
  return sum(_mse_rows(e, f) for e, f in zip(embeds, frozen_embeds))


def multimodal_retention(fused: jax.Array,
                         frozen_fused: jax.Array) -> jax.Array:
  """L_MKR per retained example: MSE(h_θ(x), h_θ₀(x)) of the fusion [CLS]."""
  return _mse_rows(fused, frozen_fused)

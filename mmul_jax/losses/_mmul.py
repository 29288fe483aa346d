"""MMUL's three losses (Cheng & Amiri, "Multimodal Machine Unlearning").

Representation-level, pure functions: they take what the model being
unlearned (θ) and the frozen original (θ₀) produced and return per-example
values of shape `(B,)` whose batch mean is the loss of the paper. The
distance is the mean squared error over features, as in the reference code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax.losses._collective import gather


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
  random single cycle (not uniform over all derangements).

  Args:
    rng: a PRNG key.
    ids: `(B,)` item ids (captions of one image share its id).

  Returns:
    `(perm, valid)`: text `perm[i]` becomes the negative partner of image
    `i`; `valid` is False when no such permutation exists (one id holds
    more than half the batch).

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> ids = jnp.array([0, 0, 1, 1, 2, 2])
    >>> perm, valid = losses.derangement(jax.random.key(0), ids)
    >>> bool(valid), bool(jnp.all(ids[perm] != ids))
    (True, True)
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


def modality_decoupling(image: jax.Array, text: jax.Array,
                        target_image: jax.Array, target_text: jax.Array, *,
                        axis_name: str | None = None) -> jax.Array:
  """L_MD per deleted example; all inputs `(B, D)` unit-norm embeddings.

  S = V Tᵀ is the in-batch similarity of the model being unlearned (image i,
  caption j of the deleted batch); S' = V⁰ T'ᵀ is the original model's
  similarity of the same images to unrelated captions T' (`target_text`, a
  derangement of the batch's captions or retained captions).
  L_MD = MSE(S, S') + MSE(Sᵀ, S'ᵀ), the i2t and t2i views; per example i it
  is the mean over j of row i plus column i:

      L_MD_i = mean_j (S_ij - S'_ij)² + mean_j (S_ji - S'_ji)².

  Pulls each deleted pair towards the similarity that the original model
  gives an unrelated pair.

  Args:
    image: the deleted pairs' image embeddings under θ, `(B, D)`.
    text: their text embeddings under θ, `(B, D)`.
    target_image: θ₀'s embeddings of the same images, `(B, D)`.
    target_text: θ₀'s embeddings of unrelated captions, `(B, D)`.
    axis_name: the batch is then the concatenation of the per-device
      batches along that axis (columns come from all devices).

  Returns:
    `(B,)` per-example losses.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> e = jnp.eye(3)  # three unit-norm embeddings
    >>> losses.modality_decoupling(e, e, e, e).tolist()  # S = S'
    [0.0, 0.0, 0.0]
  """
  img_all, txt_all = gather(image, axis_name), gather(text, axis_name)
  t_img_all = gather(target_image, axis_name)
  t_txt_all = gather(target_text, axis_name)
  f32 = lambda x: x.astype(jnp.float32)
  row = f32(image) @ f32(txt_all).T - f32(target_image) @ f32(t_txt_all).T
  col = f32(text) @ f32(img_all).T - f32(target_text) @ f32(t_img_all).T
  return jnp.mean(row ** 2, axis=1) + jnp.mean(col ** 2, axis=1)


def unimodal_retention(embeds: tuple[jax.Array, ...],
                       frozen_embeds: tuple[jax.Array, ...]) -> jax.Array:
  """L_UKR per deleted example: Σ_m MSE(e_m,θ, e_m,θ₀) over modalities m.

  Keeps each modality's own representation of the deleted items (for
  retrieval: the image and the text embedding; for classification tasks: the
  image token sequence) where the original model had it.

  Args:
    embeds: one array per modality under θ, each `(B, ...)`.
    frozen_embeds: the same under θ₀.

  Returns:
    `(B,)` per-example losses.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> img, txt = jnp.ones((2, 4)), jnp.zeros((2, 4))
    >>> losses.unimodal_retention((img, txt), (img, txt + 1.0)).tolist()
    [1.0, 1.0]
  """
  if len(embeds) != len(frozen_embeds):
    raise ValueError("one frozen embedding per embedding is needed")
  return sum(_mse_rows(e, f) for e, f in zip(embeds, frozen_embeds))


def multimodal_retention(fused: jax.Array,
                         frozen_fused: jax.Array) -> jax.Array:
  """L_MKR per retained example: MSE(h_θ(x), h_θ₀(x)) of the fusion [CLS].

  Args:
    fused: the fusion [CLS] of retained pairs under θ, `(B, D)`.
    frozen_fused: the same under θ₀.

  Returns:
    `(B,)` per-example losses.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> losses.multimodal_retention(jnp.ones((1, 2)), jnp.zeros((1, 2)))
    Array([1.], dtype=float32)
  """
  return _mse_rows(fused, frozen_fused)


def fused_modality_decoupling(fused: jax.Array,
                              target_fused: jax.Array) -> jax.Array:
  """L_MD per deleted example of a classification task (NLVR2, SNLI-VE).

  `fused`: the fusion [CLS] of the model being unlearned on the deleted
  example (its images with its own sentence); `target_fused`: the original
  model's [CLS] on the same images with an unrelated sentence. L_MD_i =
  mean_d (h_i,d - h'_i,d)²: the deleted example's joint representation is
  pulled to what the original makes of an unrelated pair (spec §1.4 b, c).

  Args:
    fused: `(B, D)`, as above.
    target_fused: `(B, D)`, as above.

  Returns:
    `(B,)` per-example losses.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> losses.fused_modality_decoupling(jnp.full((1, 2), 3.0),
    ...                                  jnp.ones((1, 2)))
    Array([4.], dtype=float32)
  """
  return _mse_rows(fused, target_fused)


def answer_decoupling(logits: jax.Array,
                      target_logits: jax.Array) -> jax.Array:
  """L_MD at a head's output (the `mmul_plus` extension, not the paper).

  `logits`: what the model being unlearned answers on a deleted example
  (the matching head's two logits of a deleted image-caption pair, or the
  class logits of a deleted NLVR2 / VE example); `target_logits`: what the
  original answers on the same image(s) with an unrelated text. With
  p = softmax(logits), p' = softmax(target_logits):

      L_i = KL(p'_i ‖ p_i) = Σ_c p'_ic (log p'_ic − log p_ic).

  MMUL's idea carried to the answer: a deleted pair should get the answer
  the original gives an unrelated pair. The unrelated partner is drawn
  afresh each step, and E_π KL(p'_π ‖ p) = CE(E_π p'_π, p) − const, so
  the term's expectation pulls p to the original's *average* answer over
  unrelated texts, which no longer carries the deleted example's label.

  Args:
    logits: `(B, C)`.
    target_logits: `(B, C)`.

  Returns:
    `(B,)` per-example losses.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> z = jnp.array([[2.0, -1.0]])
    >>> abs(float(losses.answer_decoupling(z, z)[0])) < 1e-6
    True
  """
  log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  log_q = jax.nn.log_softmax(target_logits.astype(jnp.float32), axis=-1)
  return jnp.sum(jnp.exp(log_q) * (log_q - log_p), axis=-1)

"""Image-text training objectives: contrastive (CLIP) and matching (ITM)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from mmul_jax.losses._collective import gather
from mmul_jax.losses._collective import row_offset


def positive_mask(ids_a: jax.Array, ids_b: jax.Array) -> jax.Array:
  """`(B, B')` boolean: True where row and column come from the same item.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> losses.positive_mask(jnp.array([0, 1]), jnp.array([0, 0, 1])).tolist()
    [[True, True, False], [False, False, True]]
  """
  return ids_a[:, None] == ids_b[None, :]


def clip_contrastive(image_embed: jax.Array, text_embed: jax.Array, *,
                     logit_scale: jax.Array, ids: jax.Array | None = None,
                     axis_name: str | None = None) -> jax.Array:
  """Symmetric InfoNCE over in-batch negatives; per-example `(B,)`.

  loss_i = ½ [CE(s·⟨v_i, t_·⟩, P_i) + CE(s·⟨t_i, v_·⟩, P_i)], s = exp(logit_scale),
  where the target P_i is uniform over the columns that belong to the same item
  as row i (just i when `ids` is None).

  Args:
    image_embed: `(B, D)` unit-norm image embeddings.
    text_embed: `(B, D)` unit-norm text embeddings.
    logit_scale: log of the temperature's inverse s.
    ids: `(B,)` item ids (None: every row its own item).
    axis_name: negatives are then gathered from every device along that
      axis (global-batch negatives).

  Returns:
    `(B,)` per-example losses.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> e = jnp.eye(2)  # two perfectly separated pairs
    >>> loss = losses.clip_contrastive(e, e, logit_scale=jnp.log(100.0))
    >>> bool(jnp.all(loss < 1e-6))
    True
  """
  img_all = gather(image_embed, axis_name)
  txt_all = gather(text_embed, axis_name)
  ids_all = None if ids is None else gather(ids, axis_name)
  offset = row_offset(image_embed.shape[0], axis_name)
  scale = jnp.exp(logit_scale)
  logits_i2t = scale * image_embed @ txt_all.T
  logits_t2i = scale * text_embed @ img_all.T
  if ids is None:
    cols = jnp.arange(txt_all.shape[0])
    rows = jnp.arange(image_embed.shape[0]) + offset
    target = (rows[:, None] == cols[None, :]).astype(jnp.float32)
  else:
    target = positive_mask(ids, ids_all).astype(jnp.float32)
  target = target / target.sum(-1, keepdims=True)
  i2t = optax.softmax_cross_entropy(logits_i2t, target)
  t2i = optax.softmax_cross_entropy(logits_t2i, target)
  return 0.5 * (i2t + t2i)


def sample_hard_negatives(rng: jax.Array, sim: jax.Array,
                          positives: jax.Array) -> tuple[jax.Array, jax.Array]:
  """ALBEF hard negatives: for each image a text, for each text an image.

  Draws index j with probability ∝ exp(sim_ij) over the non-positive columns
  (rows for the text side). Rows without any negative fall back to a
  uniform draw.

  Args:
    rng: a PRNG key.
    sim: `(B, B)` image-text similarities (no gradient flows through).
    positives: `(B, B)` boolean, True for true pairs (never drawn).

  Returns:
    `(text_for_image, image_for_text)`, both `(B,)` int.

  Examples:
    >>> import jax, jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> pos = jnp.eye(3, dtype=bool)
    >>> t, i = losses.sample_hard_negatives(jax.random.key(0),
    ...                                     jnp.zeros((3, 3)), pos)
    >>> bool(jnp.all(t != jnp.arange(3)) and jnp.all(i != jnp.arange(3)))
    True
  """
  sim = jax.lax.stop_gradient(sim)
  neg_inf = jnp.finfo(sim.dtype).min
  k1, k2 = jax.random.split(rng)
  text_idx = jax.random.categorical(k1, jnp.where(positives, neg_inf, sim))
  image_idx = jax.random.categorical(
      k2, jnp.where(positives.T, neg_inf, sim.T))
  return text_idx, image_idx


def itm_cross_entropy(pos_logits: jax.Array, neg_text_logits: jax.Array,
                      neg_image_logits: jax.Array) -> jax.Array:
  """Matching loss on B matched and 2B mismatched pairs; per-example `(B,)`.

  loss_i = ⅓ [CE(pos_i, 1) + CE(neg_text_i, 0) + CE(neg_image_i, 0)].

  Args:
    pos_logits: `(B, 2)` matching-head logits of the true pairs (class 1
      = matched).
    neg_text_logits: `(B, 2)`, of each image with a hard negative text.
    neg_image_logits: `(B, 2)`, of each text with a hard negative image.

  Returns:
    `(B,)` per-example losses.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> sure = jnp.array([[-20.0, 20.0]])  # confident "matched"
    >>> float(losses.itm_cross_entropy(sure, sure[:, ::-1],
    ...                                sure[:, ::-1])[0]) < 1e-6
    True
  """
  ce = optax.softmax_cross_entropy_with_integer_labels
  ones = jnp.ones(pos_logits.shape[0], jnp.int32)
  return (ce(pos_logits, ones) + ce(neg_text_logits, 0 * ones)
          + ce(neg_image_logits, 0 * ones)) / 3.0

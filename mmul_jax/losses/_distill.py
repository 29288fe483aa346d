"""Distillation losses on logits: to a teacher, or away from its answer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def kl_divergence(teacher_logits: jax.Array, student_logits: jax.Array, *,
                  temperature: float = 1.0) -> jax.Array:
  """KL(p_T ‖ p_S) per example, on the last axis, scaled by τ².

  p = softmax(z / τ); KL_i = τ² Σ_c p_T,ic (log p_T,ic − log p_S,ic). The
  τ² keeps gradient magnitudes comparable across temperatures (Hinton et
  al.). Log-probabilities of the student against probabilities of the
  teacher: the reference passed raw logits for both, which is not a KL.

  Args:
    teacher_logits: `(..., C)`.
    student_logits: `(..., C)`.
    temperature: τ > 0.

  Returns:
    The per-example KL, shaped like the logits without their last axis.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> z = jnp.array([[2.0, 0.0, -1.0]])
    >>> abs(float(losses.kl_divergence(z, z, temperature=2.0)[0])) < 1e-6
    True
  """
  t = jnp.asarray(temperature, jnp.float32)
  p_t = jax.nn.softmax(teacher_logits.astype(jnp.float32) / t, axis=-1)
  log_p_s = jax.nn.log_softmax(student_logits.astype(jnp.float32) / t,
                               axis=-1)
  return t ** 2 * optax.losses.kl_divergence(log_p_s, p_t)


def decoupled_distillation(teacher_logits: jax.Array,
                           student_logits: jax.Array, target_mask: jax.Array,
                           *, temperature: float = 1.0,
                           mask_value: float = -1e9) -> jax.Array:
  """DELETE (Zhou et al.): KL to the teacher with the true answer masked out.

  The teacher's logits of the true classes (`target_mask` True) get
  `mask_value` added, so p_T spreads the teacher's belief over the *other*
  classes (its "dark knowledge") and the student unlearns the answer while
  keeping the rest: L_i = τ² KL(softmax((z_T + m·y)/τ) ‖ softmax(z_S/τ)).

  Args:
    teacher_logits: `(..., C)`.
    student_logits: `(..., C)`.
    target_mask: boolean, like the logits: True at the true answers.
    temperature: τ > 0.
    mask_value: added to the teacher's true-answer logits (negative).

  Returns:
    The per-example loss, shaped like the logits without their last axis.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> teacher = jnp.array([[5.0, 1.0, 1.0]])
    >>> student = jnp.array([[-1e9, 0.0, 0.0]])  # the answer forgotten
    >>> mask = jnp.array([[True, False, False]])
    >>> round(float(losses.decoupled_distillation(teacher, student,
    ...                                           mask)[0]), 6)
    0.0
  """
  masked = teacher_logits.astype(jnp.float32) + jnp.where(
      target_mask, jnp.float32(mask_value), 0.0)
  return kl_divergence(masked, student_logits, temperature=temperature)


def l1_norm(params) -> jax.Array:
  """‖θ‖₁ = Σ |θ| over every leaf (the ℓ1-sparse penalty).

  Args:
    params: a pytree of arrays.

  Returns:
    A float32 scalar.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> float(losses.l1_norm({"w": jnp.array([1.0, -2.0]), "b": jnp.array(-3.0)}))
    6.0
  """
  return sum(jnp.sum(jnp.abs(x.astype(jnp.float32)))
             for x in jax.tree.leaves(params))

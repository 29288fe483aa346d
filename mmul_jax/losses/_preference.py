"""Losses against a reference model's likelihood of the true answer:
negative preference optimisation (NPO)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def true_answer_nll(logits: jax.Array, target_mask: jax.Array) -> jax.Array:
  """−log Σ_{c true} softmax(z)_c per example: the cross-entropy of the
  true answer, or of the set of true answers (a caption's several matching
  images in a batch).

  Args:
    logits: `(..., C)`.
    target_mask: boolean, like the logits: True at the true answers (at
      least one per example).

  Returns:
    The per-example negative log-likelihood, shaped like the logits
    without their last axis.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> z = jnp.log(jnp.array([[0.5, 0.25, 0.25]]))
    >>> round(float(losses.true_answer_nll(z, z > -1.0)[0]), 4)  # -log 0.5
    0.6931
  """
  log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return -jax.nn.logsumexp(jnp.where(target_mask, log_p, -jnp.inf), axis=-1)


def npo(student_logits: jax.Array, reference_logits: jax.Array,
        target_mask: jax.Array, *, beta: float = 0.1) -> jax.Array:
  """NPO (Zhang et al., "Negative Preference Optimization", 2024) per
  example: L_i = −(2/β) log σ(β (CE_θ,i − CE_ref,i)), CE the true answer's
  negative log-likelihood (`true_answer_nll`).

  At the reference (CE_θ = CE_ref) the gradient is gradient ascent's,
  −∇CE_θ; as the model's CE rises above the reference's, σ → 1 and the
  gradient fades, so unlike gradient ascent it does not run away. β → 0
  recovers gradient ascent. MU-Bench applied σ once to the batch-mean CE;
  this is the paper's per-example form (take the mean).

  Args:
    student_logits: `(..., C)`: the model being unlearned.
    reference_logits: `(..., C)`: the frozen reference (the original).
    target_mask: boolean, like the logits: True at the true answers.
    beta: β > 0, the inverse temperature.

  Returns:
    The per-example loss, shaped like the logits without their last axis.

  Examples:
    >>> import jax.numpy as jnp
    >>> from mmul_jax import losses
    >>> z = jnp.array([[2.0, 0.0, -1.0]])
    >>> mask = jnp.array([[True, False, False]])
    >>> float(losses.npo(z, z, mask, beta=0.1)[0])  # (2/β) log 2
    13.86294...
  """
  beta = jnp.asarray(beta, jnp.float32)
  gap = (true_answer_nll(student_logits, target_mask)
         - true_answer_nll(reference_logits, target_mask))
  return -(2.0 / beta) * jax.nn.log_sigmoid(beta * gap)

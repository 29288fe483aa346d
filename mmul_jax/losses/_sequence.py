"""Losses over token sequences, for language models: the answer's
negative log-likelihood with the prompt masked, and the LLM unlearning
objectives on it (NPO and DPO on summed sequence NLLs as OpenUnlearning
computes them, SimNPO's length-normalised form, the token-level KL and
hidden-state retain losses, RMU's misdirection).

Shapes: `logits (B, T, V)` are the next-token logits at each position
and `labels (B, T)` the tokens they should predict (already shifted: the
logits at t score `labels[:, t]`); `mask (B, T)` marks the answer's
tokens. Every function returns per-example values `(B,)`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _mask(mask):
  return mask.astype(jnp.float32)


def token_logprobs(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """log p(labels[:, t] | ...) `(B, T)` in float32."""
  log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return jnp.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]


def sequence_nll(logits: jax.Array, labels: jax.Array, mask: jax.Array, *,
                 reduction: str = "mean") -> jax.Array:
  """The answer's negative log-likelihood per example: summed over its
  tokens (`reduction="sum"`, what NPO and DPO compare) or their mean (the
  fine-tuning loss, length-normalised)."""
  nll = -(token_logprobs(logits, labels) * _mask(mask)).sum(-1)
  if reduction == "sum":
    return nll
  if reduction == "mean":
    return nll / jnp.maximum(_mask(mask).sum(-1), 1.0)
  raise ValueError(f"reduction {reduction!r}: use 'sum' or 'mean'")


def dpo(win_nll: jax.Array, win_reference_nll: jax.Array,
        lose_nll: jax.Array, lose_reference_nll: jax.Array, *,
        beta: float = 0.1) -> jax.Array:
  """DPO on summed sequence NLLs: −(2/β) log σ(β (r_win − r_lose)), r =
  log π_θ − log π_ref = NLL_ref − NLL (OpenUnlearning's
  `compute_dpo_loss`; IdkDPO's win answer is a refusal, its lose answer
  the forget answer)."""
  win = win_reference_nll - win_nll
  lose = lose_reference_nll - lose_nll
  return -(2.0 / beta) * jax.nn.log_sigmoid(beta * (win - lose))


def sequence_npo(nll: jax.Array, reference_nll: jax.Array, *,
                 beta: float = 0.1) -> jax.Array:
  """NPO on summed sequence NLLs: DPO without a win answer,
  −(2/β) log σ(β (NLL_θ − NLL_ref)) (OpenUnlearning's NPO; `losses.npo`
  is the same on a classifier's answer)."""
  return -(2.0 / beta) * jax.nn.log_sigmoid(beta * (nll - reference_nll))


def simnpo(mean_nll: jax.Array, *, beta: float = 4.5,
           delta: float = 0.0) -> jax.Array:
  """SimNPO (Fan et al. 2024): −(2/β) log σ(β (NLL/|y| − δ)) on the
  length-normalised NLL, with no reference model (OpenUnlearning's
  defaults β 4.5, δ 0)."""
  return -(2.0 / beta) * jax.nn.log_sigmoid(beta * (mean_nll - delta))


def token_kl(student_logits: jax.Array, reference_logits: jax.Array,
             mask: jax.Array) -> jax.Array:
  """The mean over the answer's tokens of KL(p_ref ‖ p_θ) (the KL retain
  loss: stay with the original on retained answers)."""
  log_s = jax.nn.log_softmax(student_logits.astype(jnp.float32), axis=-1)
  log_r = jax.nn.log_softmax(reference_logits.astype(jnp.float32), axis=-1)
  kl = (jnp.exp(log_r) * (log_r - log_s)).sum(-1)
  m = _mask(mask)
  return (kl * m).sum(-1) / jnp.maximum(m.sum(-1), 1.0)


def hidden_mse(hidden: jax.Array, target: jax.Array,
               mask: jax.Array) -> jax.Array:
  """The mean squared difference of hidden states `(B, T, D)` over the
  marked tokens and the width: the embedding-difference retain loss
  (`target` the original's states) and RMU's terms."""
  sq = jnp.mean((hidden.astype(jnp.float32)
                 - target.astype(jnp.float32)) ** 2, axis=-1)
  m = _mask(mask)
  return (sq * m).sum(-1) / jnp.maximum(m.sum(-1), 1.0)


def rmu_forget(hidden: jax.Array, mask: jax.Array, direction: jax.Array, *,
               coefficient: float = 2.0) -> jax.Array:
  """RMU's forget term (Li et al., WMDP 2024): push the chosen layer's
  states on forget tokens towards `coefficient` times a fixed random unit
  `direction` `(D,)` (`hidden_mse` to it); its retain term is `hidden_mse`
  to the frozen model's states on retained tokens."""
  u = direction.astype(jnp.float32)
  u = u / jnp.linalg.norm(u)
  return hidden_mse(hidden, jnp.broadcast_to(coefficient * u, hidden.shape),
                    mask)

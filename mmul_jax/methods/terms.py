"""Model-bound loss terms that any task's methods compose: distillation
and NPO over the task's logit views, the ℓ1 penalty and a zero loss.

Frozen models arrive as a dict by name ("original" is θ₀; Bad Teaching adds
"bad"); the teacher of a distillation term is one of them. The student runs
in training mode, the teacher in inference mode under `stop_gradient`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.tasks import model_terms


def token_mean(values, weights):
  """Per-token values `(B, T)` averaged over each sequence's marked
  tokens `(B,)`."""
  w = weights.astype(jnp.float32)
  return (values * w).sum(-1) / jnp.maximum(w.sum(-1), 1.0)


def _distillation(task, model, loss_fn, teacher: str, axis_name,
                  name: str = "kl"):
  """`loss_fn(teacher, student, true mask, token weights)` per view; a
  view of a sequence task carries the token weights (its third element,
  else None) and `loss_fn` returns per-example values either way."""
  method, views = task.logit_views(model, axis_name=axis_name)

  def term(params, frozen, batch, *, rng):
    inputs = task.model_inputs(batch)
    student = views(model_terms.student(model, params, method, *inputs,
                                        rng=rng), batch)
    reference = views(model_terms.frozen(model, frozen[teacher], method,
                                         *inputs), batch)
    per_view = {k: loss_fn(reference[k][0], student[k][0], reference[k][1],
                           reference[k][2] if len(reference[k]) > 2
                           else None)
                for k in student}
    values = sum(per_view.values()) / len(per_view)
    return values, {f"{name}_{k}": jnp.mean(v) for k, v in per_view.items()}
  return losses.loss_term(term)


def distillation(task, model, *, temperature: float = 1.0,
                 teacher: str = model_terms.ORIGINAL,
                 axis_name: str | None = None) -> losses.LossTerm:
  """KL(teacher ‖ student) on a flat batch, averaged over the task's logit
  views (retrieval: `retrieval_logits`' three; classification: the class
  logits); the teacher is the frozen model named `teacher`."""
  def kl(t, s, mask, weights):
    del mask
    values = losses.kl_divergence(t, s, temperature=temperature)
    return values if weights is None else token_mean(values, weights)

  return _distillation(task, model, kl, teacher, axis_name)


def decoupled_distillation(task, model, *, temperature: float = 1.0,
                           mask_value: float = -1e9,
                           axis_name: str | None = None) -> losses.LossTerm:
  """DELETE's loss on a flat batch: KL to the original with the true
  answers (captions, images, the "matched" class; the true label) masked
  out of its logits."""
  def kl(t, s, mask, weights):
    values = losses.decoupled_distillation(
        t, s, mask, temperature=temperature, mask_value=mask_value)
    return values if weights is None else token_mean(values, weights)

  return _distillation(task, model, kl, model_terms.ORIGINAL, axis_name)


def npo(task, model, *, beta: float = 0.1,
        axis_name: str | None = None) -> losses.LossTerm:
  """NPO on a flat batch (`losses.npo`) against the original, averaged over
  the task's logit views: each view's true-answer cross-entropy is the
  likelihood NPO compares; on a sequence view, the answer's summed token
  NLL (`losses.sequence_npo`, as OpenUnlearning). A task without logits
  (a diffusion model) compares per-example losses instead
  (`task.example_losses`: the denoising loss at one timestep and noise
  drawn for both models), the loss standing for the negative
  log-likelihood as in diffusion NPO."""
  if not task.has_logits:
    return _npo_on_losses(task.example_losses(model), beta)

  def npo_view(t, s, mask, weights):
    if weights is None:
      return losses.npo(s, t, mask, beta=beta)
    w = weights.astype(jnp.float32)
    nll = lambda z: (losses.true_answer_nll(z, mask) * w).sum(-1)
    return losses.sequence_npo(nll(s), nll(t), beta=beta)

  return _distillation(task, model, npo_view, model_terms.ORIGINAL,
                       axis_name, name="npo")


def _npo_on_losses(example_losses, beta: float) -> losses.LossTerm:
  def term(params, frozen, batch, *, rng):
    mine = example_losses(params, batch, rng, train=False)
    ref = jax.lax.stop_gradient(example_losses(
        frozen[model_terms.ORIGINAL], batch, rng, train=False))
    loss = losses.sequence_npo(mine, ref, beta=beta)
    return loss, {"npo_loss_gap": jnp.mean(mine - ref)}

  return losses.loss_term(term)


def l1_penalty() -> losses.LossTerm:
  """‖θ‖₁ of the parameters being unlearned (ℓ1-sparse)."""

  def term(params, frozen, batch, *, rng):
    del frozen, batch, rng
    return losses.l1_norm(params), {}

  return losses.loss_term(term)


def zero() -> losses.LossTerm:
  """A constant 0 with zero gradients: for methods that only perturb."""

  def term(params, frozen, batch, *, rng):
    del params, frozen, batch, rng
    return jnp.zeros((), jnp.float32), {}

  return losses.loss_term(term)

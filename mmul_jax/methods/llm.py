"""The language-model unlearning methods the LLM toolkits compare
(OpenUnlearning's SimNPO, IdkDPO and RMU), for text-generation tasks: a
forget term on Df plus `retain_weight` times a retain term on Dr.

* `simnpo` (Fan et al., "Simplicity Prevails: Rethinking Negative
  Preference Optimization for LLM Unlearning", 2024): NPO without the
  reference model, on the length-normalised answer NLL,
  −(2/β) log σ(β (NLL/|y| − δ)) (`losses.simnpo`).
* `idkdpo` (Maini et al., TOFU 2024; Rafailov et al. DPO): DPO against
  the original with a refusal ("i do not know .", `qa.REFUSALS`) as the
  preferred answer and the true answer as the rejected one, on summed
  answer NLLs (`losses.dpo`).
* `rmu` (Li et al., "The WMDP Benchmark", 2024): the residual stream
  after layer `layer` on Df's tokens is pushed towards `steering` times a
  fixed random unit direction (`losses.rmu_forget`); its retain term keeps
  the same layer's states on Dr at the original's. Departure: every
  weight trains (WMDP updates three MLPs below the layer); LoRA
  (`unlearn.lora_rank`) is the way to train fewer.

`retain_loss` picks the retain term of SimNPO and IdkDPO (RMU's is its
own): "nll" (the task loss on Dr, OpenUnlearning's default), "kl" (the
token-level KL to the original on Dr's answers) or "hidden" (the mean
squared difference of the final states from the original's on Dr's
answer tokens, OpenUnlearning's embedding difference).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mmul_jax import losses
from mmul_jax.methods import base
from mmul_jax.methods import terms
from mmul_jax.models import language_layouts
from mmul_jax.tasks import model_terms

RETAIN_LOSSES = ("nll", "kl", "hidden")


def _run(model, params, batch, answer: str, *, rng, train: bool,
         hidden=False):
  """The answer's logits `(B, A, V)`, the states `hidden` asks for (a
  decoder-only model's) and their token mask, on the prompt and
  `batch[answer]`; `train`: the model being unlearned, else a frozen one
  (no gradient)."""
  lm = language_layouts.for_model(model)
  inputs = lm.inputs(batch, answer)
  extra = {} if hidden is False else {"hidden": hidden}
  out = model.apply(params, *inputs, train=train,
                    rngs={"dropout": rng} if train else None, **extra)
  if not train:
    out = jax.lax.stop_gradient(out)
  logits, states = out if hidden is not False else (out, None)
  return (lm.answer_logits(logits, batch, answer), states,
          inputs[1] if hidden is not False else None)


def _nll(model, params, batch, answer: str, *, rng, train: bool,
         reduction: str) -> jax.Array:
  z, _, _ = _run(model, params, batch, answer, rng=rng, train=train)
  return losses.sequence_nll(z, batch[answer], batch[f"{answer}_mask"],
                             reduction=reduction)


def simnpo_forget(model, *, beta: float, delta: float) -> losses.LossTerm:
  def term(params, frozen, batch, *, rng):
    del frozen
    nll = _nll(model, params, batch, "answer", rng=rng, train=True,
               reduction="mean")
    return losses.simnpo(nll, beta=beta, delta=delta), {
        "forget_nll": jnp.mean(nll)}
  return losses.loss_term(term)


def idkdpo_forget(model, *, beta: float) -> losses.LossTerm:
  def term(params, frozen, batch, *, rng):
    original = frozen[model_terms.ORIGINAL]
    nll = lambda p, a, train: _nll(model, p, batch, a, rng=rng, train=train,
                                   reduction="sum")
    value = losses.dpo(nll(params, "refusal", True),
                       nll(original, "refusal", False),
                       nll(params, "answer", True),
                       nll(original, "answer", False), beta=beta)
    return value, {}
  return losses.loss_term(term)


def hidden_retain(model, *, layer=True, tokens: str = "answer"
                  ) -> losses.LossTerm:
  """The mean squared difference of the states (`layer`: True the final
  normed ones, k the residual stream after layer k) from the original's,
  over the answer's tokens ("answer") or every real token ("all")."""
  def term(params, frozen, batch, *, rng):
    _, mine, mask = _run(model, params, batch, "answer", rng=rng,
                         train=True, hidden=layer)
    _, theirs, _ = _run(model, frozen[model_terms.ORIGINAL], batch,
                        "answer", rng=rng, train=False, hidden=layer)
    if tokens == "answer":
      p = batch["prompt"].shape[1]
      mine, theirs = mine[:, p:], theirs[:, p:]
      mask = batch["answer_mask"]
    return losses.hidden_mse(mine, theirs, mask), {}
  return losses.loss_term(term)


def rmu_forget(model, *, layer: int, steering: float,
               direction: jax.Array) -> losses.LossTerm:
  def term(params, frozen, batch, *, rng):
    del frozen
    _, states, mask = _run(model, params, batch, "answer", rng=rng,
                           train=True, hidden=layer)
    return losses.rmu_forget(states, mask, direction,
                             coefficient=steering), {}
  return losses.loss_term(term)


def retain_term(ctx: base.Context, kind: str) -> losses.LossTerm:
  """The retain term `kind` (`RETAIN_LOSSES`) on a flat Dr batch."""
  if kind == "nll":
    return ctx.task_loss()
  if kind == "kl":
    return terms.distillation(ctx.task, ctx.model)
  return hidden_retain(ctx.model)


def build_simnpo(ctx: base.Context) -> base.Plan:
  h = ctx.hparams
  return base.with_retain(
      ctx, simnpo_forget(ctx.model, beta=float(h.beta), delta=float(h.delta)),
      retain_term(ctx, h.retain_loss))


def build_idkdpo(ctx: base.Context) -> base.Plan:
  h = ctx.hparams
  return base.with_retain(ctx, idkdpo_forget(ctx.model, beta=float(h.beta)),
                      retain_term(ctx, h.retain_loss))


def rmu_layer(h, model) -> int:
  """`layer`, or the middle layer for 0."""
  return int(h.layer) or max(1, model.cfg.num_layers // 2)


def build_rmu(ctx: base.Context) -> base.Plan:
  h = ctx.hparams
  layer = rmu_layer(h, ctx.model)
  if layer > ctx.model.cfg.num_layers:
    raise ValueError(f"method.rmu.layer = {layer}, but the model has "
                     f"{ctx.model.cfg.num_layers} layers")
  # WMDP draws the direction uniformly in [0, 1)^D and normalises it.
  direction = jax.random.uniform(jax.random.key(ctx.config.seed),
                                 (ctx.model.cfg.hidden_size,))
  return base.with_retain(
      ctx, rmu_forget(ctx.model, layer=layer, steering=float(h.steering),
                      direction=direction / jnp.linalg.norm(direction)),
      hidden_retain(ctx.model, layer=layer, tokens="all"))


def _needs_states(config, what: str) -> list[str]:
  """The hidden states are a decoder-only model's (`language_layouts`)."""
  if config.model.arch not in ("llama", "llava"):
    return [f"{what} reads a decoder-only model's hidden states; "
            f"model.arch is {config.model.arch!r} (use 'llama')"]
  return []


def _check_retain(h, config) -> list[str]:
  if h.retain_loss not in RETAIN_LOSSES:
    return [f"retain_loss must be one of {list(RETAIN_LOSSES)}"]
  if h.retain_loss == "hidden":
    return _needs_states(config, "retain_loss 'hidden'")
  return []


def check_simnpo(h, config) -> list[str]:
  return (base.require_numbers(h, ("beta",), minimum=0.0, exclusive=True)
          + base.require_numbers(h, ("delta",), minimum=0.0)
          + base.require_numbers(h, ("retain_weight",), minimum=0.0)
          + _check_retain(h, config))


def check_idkdpo(h, config) -> list[str]:
  return (base.require_numbers(h, ("beta",), minimum=0.0, exclusive=True)
          + base.require_numbers(h, ("retain_weight",), minimum=0.0)
          + _check_retain(h, config))


def check_rmu(h, config) -> list[str]:
  problems = (base.require_integers(h, ("layer",), minimum=0)
              + base.require_numbers(h, ("steering",), minimum=0.0,
                                     exclusive=True)
              + base.require_numbers(h, ("retain_weight",), minimum=0.0))
  problems += _needs_states(config, "RMU")
  m = config.model
  if (not problems and not (m.pretrained or m.original)
      and h.layer > m.text_layers):
    problems.append(f"layer ({h.layer}) must be at most model.text_layers "
                    f"({m.text_layers}); 0: the middle layer")
  return problems


_GENERATION = frozenset({"generation", "image_generation"})
_RETAIN_RANGE = {"retain_weight": (0.0, 10.0, "linear")}
SIMNPO = base.Method(
    build_simnpo, dict(beta=4.5, delta=0.0, retain_weight=1.0,
                       retain_loss="nll"),
    ranges={"beta": (0.5, 10.0, "log"), "delta": (0.0, 2.0, "linear"),
            **_RETAIN_RANGE},
    check=check_simnpo, kinds=_GENERATION,
    in_state=frozenset({"retain_weight"}), gradient_ascent=True)
IDKDPO = base.Method(
    build_idkdpo, dict(beta=0.1, retain_weight=1.0, retain_loss="nll"),
    ranges={"beta": (0.01, 1.0, "log"), **_RETAIN_RANGE},
    check=check_idkdpo, kinds=_GENERATION,
    in_state=frozenset({"retain_weight"}))
RMU = base.Method(
    build_rmu, dict(layer=0, steering=2.0, retain_weight=1.0),
    ranges={"steering": (0.5, 20.0, "log"), **_RETAIN_RANGE},
    check=check_rmu, kinds=_GENERATION,
    in_state=frozenset({"retain_weight"}))

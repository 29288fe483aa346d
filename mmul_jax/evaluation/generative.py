"""The metrics of generative unlearning, from per-token log-probabilities
and generated texts (numpy; the model-side work is the caller's): ROUGE,
TOFU's answer probability, truth ratio, forget quality and model utility,
MU-Bench's generative overall score, the six membership attacks the
toolkits report (gradient norm through `jax.vmap`) with PrivLeak, and
exact memorisation and extraction strength.

Conventions. `logprobs` is `(N, T)`: each answer token's log-probability
under the model (teacher forcing), `mask` `(N, T)` marks the answer's
tokens (padding and prompt excluded). A membership score is higher for
what the attack takes to be a member. Where the peers differ
(`../shared/reference/peers-generative.md`) the choice is named:

* truth ratio: the perturbed answers' probabilities are combined by a
  geometric mean (OpenUnlearning's `truth_ratio`: their length-normalised
  losses averaged before exponentiating), `averaging="arithmetic"` gives
  the TOFU paper's mean of probabilities; TR = P(perturbed) /
  P(paraphrased), so a model that knows the answer has TR < 1 (CLEAR's
  code inverts it);
* extraction strength: 1 - k/T with k the first position from which the
  greedy (argmax) prediction matches the rest of the answer, and 0 when
  no suffix matches (OpenUnlearning's loop leaves k = T - 1, i.e. 1/T);
* MU-Bench's overall score on fractions (its code mixes ROUGE x 100 with
  1 - ROUGE).
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import stats
from sklearn import metrics

from mmul_jax import errors


def _masked(logprobs, mask):
  logprobs = np.asarray(logprobs, np.float64)
  mask = np.asarray(mask, bool)
  if logprobs.shape != mask.shape:
    raise ValueError(f"logprobs {logprobs.shape} and mask {mask.shape} "
                     "differ in shape")
  if not mask.any(axis=-1).all():
    raise ValueError("an answer has no tokens (its mask is all false)")
  return logprobs, mask


def mean_nll(logprobs, mask) -> np.ndarray:
  """Each answer's mean token negative log-likelihood `(N,)`."""
  logprobs, mask = _masked(logprobs, mask)
  return -(logprobs * mask).sum(-1) / mask.sum(-1)


def answer_probability(logprobs, mask) -> np.ndarray:
  """TOFU's Prob: P(a|q)^(1/|a|) = exp(-mean NLL) per answer."""
  return np.exp(-mean_nll(logprobs, mask))


def normalised_probability(correct_nll, perturbed_nll) -> np.ndarray:
  """P(a) / (P(a) + sum P(perturbed)) with P = exp(-mean NLL) (TOFU's
  Prob on real authors and world facts, OpenUnlearning's
  `probability_w_options`); `perturbed_nll` is `(N, K)`."""
  correct = np.exp(-np.asarray(correct_nll, np.float64))
  wrong = np.exp(-np.asarray(perturbed_nll, np.float64)).sum(-1)
  return correct / (correct + wrong)


def truth_ratio(paraphrased_nll, perturbed_nll, *,
                averaging: str = "geometric") -> np.ndarray:
  """TR = P(perturbed) / P(paraphrased) per question, each P the
  length-normalised probability exp(-mean NLL); the K perturbed answers
  `(N, K)` combined by their geometric mean (OpenUnlearning) or
  arithmetic mean (the TOFU paper)."""
  para = np.asarray(paraphrased_nll, np.float64)
  pert = np.asarray(perturbed_nll, np.float64)
  if averaging == "geometric":
    return np.exp(para - pert.mean(-1))
  if averaging == "arithmetic":
    return np.exp(-pert).mean(-1) / np.exp(-para)
  raise errors.ConfigError(f"truth-ratio averaging {averaging!r}: use "
                           "'geometric' or 'arithmetic'")


def truth_ratio_score(ratios, split: str) -> float:
  """TOFU's truth-ratio statistic: on the forget set mean(min(TR, 1/TR))
  (1: as unsure as a model that never saw it), elsewhere
  mean(max(0, 1 - TR))."""
  tr = np.asarray(ratios, np.float64)
  if split == "forget":
    return float(np.mean(np.minimum(tr, 1.0 / tr)))
  return float(np.mean(np.maximum(0.0, 1.0 - tr)))


def forget_quality(model_ratios, retained_ratios) -> float:
  """The p-value of the two-sample Kolmogorov-Smirnov test between the
  forget set's truth ratios under the model and under the model retrained
  without it (high: indistinguishable)."""
  return float(stats.ks_2samp(np.asarray(model_ratios),
                              np.asarray(retained_ratios)).pvalue)


def model_utility(values) -> float:
  """The harmonic mean of TOFU's nine statistics ({retain, real authors,
  world facts} x {Prob, ROUGE-L recall, truth-ratio score}); 0 if any
  is 0."""
  v = np.asarray(list(values), np.float64)
  if (v < 0).any():
    raise ValueError("model utility averages non-negative statistics")
  return 0.0 if (v == 0).any() else float(stats.hmean(v))


def rouge(predictions, references) -> dict[str, np.ndarray]:
  """Per-example ROUGE-1, ROUGE-2 and ROUGE-L (F1 and recall; the
  `rouge-score` package, Porter stemming on), as fractions."""
  rouge_scorer = errors.require("rouge_score.rouge_scorer",
                                extra="generation",
                                needed_for="ROUGE")
  if len(predictions) != len(references):
    raise ValueError(f"{len(predictions)} predictions for "
                     f"{len(references)} references")
  scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"],
                                    use_stemmer=True)
  out = {f"{k}_{p}": [] for k in ("rouge1", "rouge2", "rougeL")
         for p in ("f1", "recall")}
  for pred, ref in zip(predictions, references):
    s = scorer.score(ref, pred)  # target first
    for k in ("rouge1", "rouge2", "rougeL"):
      out[f"{k}_f1"].append(s[k].fmeasure)
      out[f"{k}_recall"].append(s[k].recall)
  return {k: np.asarray(v) for k, v in out.items()}


def mubench_overall(rouge_l_test: float, rouge_l_df: float,
                    knowledge_gap: float | None = None) -> float:
  """MU-Bench's generative score on fractions: (ROUGE-L on test + 1 -
  ROUGE-L on Df) / 2, or with the Dr-vs-Df knowledge gap / 3."""
  parts = [rouge_l_test, 1.0 - rouge_l_df]
  if knowledge_gap is not None:
    parts.append(knowledge_gap)
  return float(np.mean(parts))


# Membership attacks: higher = more member-like.


def loss_attack(logprobs, mask) -> np.ndarray:
  """LOSS: minus the mean token NLL."""
  return -mean_nll(logprobs, mask)


def zlib_attack(logprobs, mask, texts) -> np.ndarray:
  """zlib (Carlini et al. 2021): minus the mean NLL over the zlib-
  compressed length of the answer's text (UTF-8 bytes)."""
  entropy = np.asarray([len(zlib.compress(t.encode("utf-8")))
                        for t in texts], np.float64)
  return -mean_nll(logprobs, mask) / entropy


def reference_attack(logprobs, mask, reference_logprobs) -> np.ndarray:
  """Reference model: how much lower the model's NLL is than a reference
  model's on the same tokens."""
  return reference_attack_from_nll(mean_nll(logprobs, mask),
                                   mean_nll(reference_logprobs, mask))


def reference_attack_from_nll(mean_nll, reference_mean_nll) -> np.ndarray:
  """`reference_attack` from each answer's mean NLL under the model and
  the reference (what the scores file keeps as `loss`)."""
  return (np.asarray(reference_mean_nll, np.float64)
          - np.asarray(mean_nll, np.float64))


def gradient_norm_attack(loss_fn, params, batch, *,
                         order: float = 2) -> np.ndarray:
  """Gradient norm (OpenUnlearning's `mia_gradnorm`): minus the `order`-
  norm (1, 2 or inf) of each example's loss gradient over every
  parameter; training drove members' gradients down. `loss_fn(params,
  example) -> scalar` reads one example, a row of each array of `batch`
  (per-example gradients by `jax.vmap`)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  grads = jax.vmap(jax.grad(loss_fn), in_axes=(None, 0))(params, batch)
  flat = jnp.concatenate([g.reshape(g.shape[0], -1).astype(jnp.float32)
                          for g in jax.tree.leaves(grads)], axis=1)
  return -np.asarray(jnp.linalg.norm(flat, ord=order, axis=1))


def _lowest_mean(values, mask, k: float) -> np.ndarray:
  out = []
  for v, m in zip(np.asarray(values, np.float64), np.asarray(mask, bool)):
    kept = np.sort(v[m])
    out.append(kept[:max(1, int(len(kept) * k))].mean())
  return np.asarray(out)


def min_k_attack(logprobs, mask, k: float = 0.4) -> np.ndarray:
  """Min-K% Prob (Shi et al. 2023): the mean log-probability of the k
  fraction of the answer's least likely tokens."""
  logprobs, mask = _masked(logprobs, mask)
  return _lowest_mean(logprobs, mask, k)


def min_k_plus_plus_attack(logprobs, mask, vocab_mean, vocab_var,
                           k: float = 0.4) -> np.ndarray:
  """Min-K%++ (Zhang et al. 2024): each token's log-probability
  standardised by the mean and variance of log p over the vocabulary
  under p (`vocab_mean`, `vocab_var`: `(N, T)`, `token_statistics`), then
  the mean of the lowest k fraction."""
  logprobs, mask = _masked(logprobs, mask)
  z = (logprobs - np.asarray(vocab_mean)) / np.sqrt(
      np.maximum(np.asarray(vocab_var, np.float64), 1e-6))
  return _lowest_mean(z, mask, k)


def token_statistics(vocab_logprobs) -> tuple[np.ndarray, np.ndarray]:
  """`(E_p[log p], Var_p[log p])` over the vocabulary at each position of
  `vocab_logprobs` `(..., V)` (what Min-K%++ standardises with)."""
  lp = np.asarray(vocab_logprobs, np.float64)
  p = np.exp(lp)
  mean = (p * lp).sum(-1)
  return mean, (p * lp * lp).sum(-1) - mean ** 2


def attack_auc(member_scores, non_member_scores) -> float:
  """The AUC of telling members (the forget set) from non-members (a
  holdout set) by a membership score (ties count half)."""
  m = np.asarray(member_scores, np.float64).ravel()
  n = np.asarray(non_member_scores, np.float64).ravel()
  labels = np.r_[np.ones(len(m)), np.zeros(len(n))]
  return float(metrics.roc_auc_score(labels, np.r_[m, n]))


def privleak(model_auc: float, retrained_auc: float) -> float:
  """PrivLeak in percent, as MUSE and OpenUnlearning report it, from
  `attack_auc`s of the model and of the retrained model: they take the
  AUC of scoring the holdout set higher (1 - these), so (AUC'_model -
  AUC'_retrained) / AUC'_retrained is near 0 when the model leaks what a
  model that never saw the forget set leaks, large negative when it
  still tells the forget set apart (under-forgetting), large positive
  when it over-forgets."""
  model, retrained = 1.0 - model_auc, 1.0 - retrained_auc
  return 100.0 * (model - retrained) / retrained


def exact_memorization(predictions, labels, mask) -> np.ndarray:
  """The fraction of each answer's tokens the model's argmax predicts
  under teacher forcing."""
  hit = (np.asarray(predictions) == np.asarray(labels)) & np.asarray(
      mask, bool)
  return hit.sum(-1) / np.asarray(mask, bool).sum(-1)


def extraction_strength(predictions, labels, mask) -> np.ndarray:
  """1 - k/T per answer (T tokens), k the first position from which the
  argmax predictions equal the rest of the answer; 0 when none does."""
  out = []
  for p, l, m in zip(np.asarray(predictions), np.asarray(labels),
                     np.asarray(mask, bool)):
    p, l = p[m], l[m]
    t = len(l)
    k = next((i for i in range(t) if np.array_equal(p[i:], l[i:])), t)
    out.append(1.0 - k / t)
  return np.asarray(out)

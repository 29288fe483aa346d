"""Evaluation of a language model on question-answer sets (`qa.QaSet`):
one teacher-forced pass per answer (its tokens' log-probabilities, the
argmax predictions and the vocabulary statistics Min-K%++ standardises
with), one for each paraphrased and perturbed answer, and greedy decoding
with the key-value cache (`models.language_layouts`: decoder-only or
encoder-decoder) for ROUGE.

The metric family `generation` reads them: ROUGE-1/2/L (F1 and recall)
on every set, TOFU's answer probability, truth ratio and its statistic
(the forget set's min(TR, 1/TR) on Df, max(0, 1 - TR) elsewhere), MUSE's
verbatim memorisation (`verbatim_prompts`: ROUGE-L F1 of the greedy
continuation of half an answer; decoder-only models) and knowledge
memorisation (ROUGE on the question-answer pairs themselves), the
model utility of the sets the data has (the harmonic mean of Dr's
probability, ROUGE-L recall and truth-ratio statistic: the embedded data
has no real-authors or world-facts sets, so TOFU's nine statistics are
three here), MU-Bench's generative overall parts, exact memorisation and
extraction strength, and the membership attacks' AUCs of Df (members,
scored as unlearned) against the held-out set.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from mmul_jax.evaluation import evaluate as evaluate_lib
from mmul_jax.evaluation import generative
from mmul_jax.evaluation.evaluators import forward as forward_lib
from mmul_jax.models import language_layouts

# Truth-ratio averaging of the perturbed answers (`generative.truth_ratio`):
# the TOFU paper's mean of probabilities.
TRUTH_RATIO_AVERAGING = "arithmetic"
MIN_K = 0.4  # Min-K% and Min-K%++'s fraction of least likely tokens


class Scorer:
  """The jitted passes at a fixed batch size (module docstring); a set's
  `qa.Encoder` gives the decoding's length, stop and padding tokens.
  `prepare` turns a set's uint8 images into what the model reads (an
  image-conditioned model's sets: `qa.QaSet.images`)."""

  def __init__(self, model, *, batch_size: int, prepare=None):
    self.batch_size = batch_size
    self.model = model
    self.layout = language_layouts.for_model(model)
    self._prepare = prepare
    lm = self.layout

    def stats(p, context, answer, answer_mask):
      batch = {**context, "answer": answer, "answer_mask": answer_mask}
      z = lm.answer_logits(model.apply(p, *lm.inputs(batch)), batch)
      logp = jax.nn.log_softmax(z, axis=-1)
      prob = jnp.exp(logp)
      mu = jnp.sum(prob * logp, -1)
      return {"logprobs": jnp.take_along_axis(
                  logp, answer[..., None], -1)[..., 0],
              "argmax": jnp.argmax(z, -1).astype(jnp.int32), "mu": mu,
              "var": jnp.sum(prob * logp ** 2, -1) - mu ** 2}

    self._stats = jax.jit(stats)
    self._logprobs = jax.jit(lambda *a: stats(*a)["logprobs"])

  def context(self, s, rows, prompt=None) -> dict:
    """What pairs `rows` of `s` condition on: their prompts (or `prompt`'s
    rows) and, in an image-conditioned set, their images and whether they
    have one."""
    tokens, mask = prompt or (s.prompt, s.prompt_mask)
    out = {"prompt": tokens[rows], "prompt_mask": mask[rows]}
    if s.images is not None:
      r = s.image_row[rows]
      out["image"] = self._prepare(s.images[np.maximum(r, 0)])
      out["image_mask"] = r >= 0
    return out

  def stats(self, params, s) -> dict:
    """Teacher-forced statistics of each pair's answer."""
    return evaluate_lib.batched(
        lambda rows, *a: self._stats(params, self.context(s, rows), *a),
        (np.arange(len(s)), s.answer, s.answer_mask), self.batch_size)

  def nll(self, params, s, answers: tuple[np.ndarray, np.ndarray]
          ) -> np.ndarray:
    """Mean token NLL of other answers to the same prompts: `(M, A)`
    arrays, or `(M, K, A)` (K per prompt) giving `(M, K)`."""
    tokens, mask = answers
    k = tokens.shape[1] if tokens.ndim == 3 else 1
    rows = np.repeat(np.arange(len(s)), k)
    lp = evaluate_lib.batched(
        lambda r, *a: self._logprobs(params, self.context(s, r), *a),
        (rows, tokens.reshape(len(rows), -1), mask.reshape(len(rows), -1)),
        self.batch_size)
    nll = generative.mean_nll(lp, mask.reshape(len(rows), -1))
    return nll.reshape(len(s), k) if tokens.ndim == 3 else nll

  def generate(self, params, s, prompt=None) -> list[str]:
    """Each prompt's greedy answer (at most `answer_length` tokens), as
    text; `prompt`: other `(tokens, mask)` prompts for the same pairs."""
    e = s.encoder

    def run(rows):
      c = self.context(s, rows, prompt)
      extra = ({"images": c["image"], "image_mask": c["image_mask"]}
               if "image" in c else {})
      return self.layout.generate(
          self.model, params, c["prompt"], c["prompt_mask"],
          max_new_tokens=e.answer_length, stop_ids=(e.eos,), pad_id=e.pad,
          **extra)

    out = evaluate_lib.batched(run, (np.arange(len(s)),), self.batch_size)
    return e.decode(*out)


def verbatim_prompts(s) -> tuple[np.ndarray, np.ndarray, list[str]]:
  """MUSE's verbatim-memorisation probe on question-answer pairs: each
  prompt followed by the first half of its answer's tokens (the end of
  text aside), and the rest of the answer as the reference text."""
  n = s.answer_mask.sum(1) - 1  # the answer's tokens before the end
  half = n // 2
  k = int(half.max()) if len(half) else 0
  cut = np.arange(k)[None, :] < half[:, None]
  prompt = np.concatenate([s.prompt, np.where(cut, s.answer[:, :k], 0)], 1)
  mask = np.concatenate([s.prompt_mask, cut], 1)
  rest = [s.encoder.decode(row[h:m][None], np.asarray([m - h]))[0]
          for row, h, m in zip(s.answer, half, n)]
  return prompt.astype(np.int32), mask, rest


def set_outputs(scorer: Scorer, params, s) -> dict:
  """One set's per-pair values (what the metrics and scores read)."""
  st = scorer.stats(params, s)
  mask = s.answer_mask
  out = {"logprobs": st["logprobs"],
         "mean_nll": generative.mean_nll(st["logprobs"], mask),
         "min_k": generative.min_k_attack(st["logprobs"], mask, MIN_K),
         "min_k_plus_plus": generative.min_k_plus_plus_attack(
             st["logprobs"], mask, st["mu"], st["var"], MIN_K),
         "exact_memorization": generative.exact_memorization(
             st["argmax"], s.answer, mask),
         "extraction_strength": generative.extraction_strength(
             st["argmax"], s.answer, mask)}
  out["p_answer"] = np.exp(-out["mean_nll"])
  texts = scorer.generate(params, s)
  out["generated"] = texts
  out.update(generative.rouge(texts, list(s.answer_text)))
  if scorer.layout.hidden_states:  # a decoder-only model continues text
    prompt, prompt_mask, rest = verbatim_prompts(s)
    continued = scorer.generate(params, s, prompt=(prompt, prompt_mask))
    out["verbmem"] = generative.rouge(continued, rest)["rougeL_f1"]
  out["zlib"] = generative.zlib_attack(st["logprobs"], mask,
                                       list(s.answer_text))
  if s.paraphrased is not None:
    # NaN for the pairs without a paraphrase and perturbed answers.
    perturbed = scorer.nll(params, s, s.perturbed)
    paraphrased = scorer.nll(params, s, s.paraphrased)
    out["truth_ratio"] = np.where(s.truth, generative.truth_ratio(
        paraphrased, perturbed, averaging=TRUTH_RATIO_AVERAGING), np.nan)
    # Multiple choice (CLEAR's) without options of the answer's wording:
    # right when the paraphrase is likelier than every perturbed answer,
    # which share its wording.
    out["mc_correct"] = np.where(
        s.truth, (paraphrased < perturbed.min(axis=1)).astype(np.float64),
        np.nan)
    out["p_normalised"] = np.where(
        s.truth, generative.normalised_probability(out["mean_nll"],
                                                   perturbed), np.nan)
  if s.options is not None:
    # With them: right when the answer is likelier than every option.
    wrong = scorer.nll(params, s, s.options).min(axis=1)
    out["mc_correct"] = np.where(
        s.mc, (out["mean_nll"] < wrong).astype(np.float64), np.nan)
  return out


def forward(scorer: Scorer, params, sets: dict, *,
            options: forward_lib.Options, desc: str = "evaluate",
            scores: dict | None = None) -> forward_lib.Forward:
  """A language model's passes over `sets`; the pair score (by which Df
  is told from Dr) is TOFU's answer probability exp(-mean NLL)."""
  outputs = {name: set_outputs(scorer, params, s) for name, s in tqdm(
      sets.items(), desc=desc, unit="set", leave=False)}
  return forward_lib.Forward(
      kind="generation", sets=sets, outputs=outputs,
      pair_scores={"p_answer": {k: o["p_answer"]
                                for k, o in outputs.items()}},
      params=params, model=scorer, options=options, scores=scores)


# The per-example scores a generation run saves (`example_scores`).
SCORE_KEYS = ("mean_nll", "p_answer", "min_k", "min_k_plus_plus", "zlib",
              "rougeL_recall", "exact_memorization", "extraction_strength",
              "truth_ratio", "verbmem")


def example_scores(outputs: dict) -> dict:
  """One set's per-example scores from `set_outputs`, with `loss` the
  mean token NLL."""
  out = {k: np.asarray(outputs[k], np.float64) for k in SCORE_KEYS
         if k in outputs}
  out["loss"] = out["mean_nll"]
  return out

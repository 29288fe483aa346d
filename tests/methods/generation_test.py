"""The generation task's loss and the general methods' terms on its
sequence view, each against an independent numpy computation: the answer
NLL with the prompt masked, NPO on summed answer NLLs, the token-level KL
and DELETE's masked KL over answer tokens, RandLabel's random Dr
answers; and remat changing no number."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.methods import llm
from mmul_jax.methods import relabel
from mmul_jax.methods import terms
from mmul_jax.tasks import model_terms

B, P, A, V = 4, 5, 6, 40


def _config(remat=False):
  c = config_schema.default_config()
  c.data.name = "authors"
  c.data.prompt_length, c.data.answer_length = P, A
  c.model.arch = "llama"
  c.model.vocab_size = V
  c.model.text_width, c.model.text_layers = 32, 2
  c.model.text_heads, c.model.kv_heads = 4, 2
  c.model.remat = remat
  return c


@pytest.fixture(scope="module")
def setup():
  task = tasks.for_dataset(datasets.DATASETS["authors"])
  c = _config()
  model = task.build_model(c.model)
  params = task.init_params(model, c, 0)
  original = task.init_params(model, c, 1)
  return task, model, params, original


def _batch(seed=0):
  r = np.random.default_rng(seed)
  prompt_mask = np.ones((B, P), bool)
  prompt_mask[0, :2] = False  # left padding
  answer_mask = np.zeros((B, A), bool)
  for i, n in enumerate((6, 3, 1, 4)):
    answer_mask[i, :n] = True
  refusal_mask = np.zeros((B, A), bool)
  refusal_mask[:, :3] = True
  return {"prompt": r.integers(4, V, (B, P)).astype(np.int32) * prompt_mask,
          "prompt_mask": prompt_mask,
          "answer": r.integers(4, V, (B, A)).astype(np.int32) * answer_mask,
          "answer_mask": answer_mask,
          "refusal": r.integers(4, V, (B, A)).astype(np.int32)
                     * refusal_mask,
          "refusal_mask": refusal_mask, "image_id": np.arange(B)}


def _answer_logprobs(model, params, batch, answer="answer"):
  """log-softmax of the logits that predict each answer token (numpy)."""
  tokens = np.concatenate([batch["prompt"], batch[answer]], 1)
  mask = np.concatenate([batch["prompt_mask"], batch[f"{answer}_mask"]], 1)
  z = np.asarray(model.apply(params, tokens, mask), np.float64)
  z = z[:, P - 1:P + A - 1]
  return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _nll(logp, batch, answer="answer"):
  true = np.take_along_axis(logp, batch[answer][..., None], -1)[..., 0]
  return -(true * batch[f"{answer}_mask"]).sum(-1)


def _log_sigmoid(x):
  return -np.log1p(np.exp(-x))


def _apply(term, params, original, batch):
  value, _, _ = term.apply(term.init(params), params,
                           {model_terms.ORIGINAL: original}, batch,
                           rng=jax.random.key(0))
  return float(value)


def test_training_loss_is_the_answer_mean_nll(setup):
  task, model, params, _ = setup
  batch = _batch()
  nll, aux = task.training_loss(model)(params, batch, jax.random.key(0))
  want = _nll(_answer_logprobs(model, params, batch), batch) / batch[
      "answer_mask"].sum(-1)
  np.testing.assert_allclose(nll, want, rtol=1e-5)
  # The prompt is masked: changing a prompt token's padding side changes
  # nothing the loss reads but the answer's context.
  assert 0 <= float(aux["token_acc"]) <= 1


def test_npo_on_the_sequence_view_compares_summed_nlls(setup):
  task, model, params, original = setup
  batch, beta = _batch(1), 0.3
  value = _apply(terms.npo(task, model, beta=beta), params, original, batch)
  gap = (_nll(_answer_logprobs(model, params, batch), batch)
         - _nll(_answer_logprobs(model, original, batch), batch))
  want = np.mean(-(2 / beta) * np.log(1 / (1 + np.exp(-beta * gap))))
  assert value == pytest.approx(want, rel=1e-5)


def test_kl_and_delete_average_over_answer_tokens(setup):
  task, model, params, original = setup
  batch = _batch(2)
  lp_s = _answer_logprobs(model, params, batch)
  lp_t = _answer_logprobs(model, original, batch)
  m = batch["answer_mask"]
  kl = (np.exp(lp_t) * (lp_t - lp_s)).sum(-1)
  want = np.mean((kl * m).sum(-1) / m.sum(-1))
  assert _apply(terms.distillation(task, model), params, original,
                batch) == pytest.approx(want, rel=1e-5)
  # DELETE: the true token masked out of the teacher's distribution.
  true = np.eye(V, dtype=bool)[batch["answer"]]
  t = np.where(true, -1e9, lp_t)
  t = t - np.log(np.exp(t).sum(-1, keepdims=True))
  s = lp_s
  kl = (np.exp(t) * (t - s)).sum(-1)
  want = np.mean((kl * m).sum(-1) / m.sum(-1))
  assert _apply(terms.decoupled_distillation(task, model), params, original,
                batch) == pytest.approx(want, rel=1e-4)


def test_randlabel_gives_deleted_prompts_retained_answers():
  df, dr = _batch(3), _batch(4)
  out = relabel.random_answers_and_merge({"df": df, "dr": dr},
                                         jax.random.key(5))
  assert out["answer"].shape == (2 * B, A)
  np.testing.assert_array_equal(out["prompt"][:B], df["prompt"])
  np.testing.assert_array_equal(out["answer"][B:], dr["answer"])
  for row in range(B):  # each Df prompt now carries some Dr answer
    hits = [j for j in range(B)
            if (np.asarray(out["answer"][row]) == dr["answer"][j]).all()
            and (np.asarray(out["answer_mask"][row])
                 == dr["answer_mask"][j]).all()]
    assert hits
  assert (np.asarray(out["image_id"][:B]) < 0).all()  # new pairs


def test_remat_changes_no_number(setup):
  task, _, _, _ = setup
  batch = _batch(6)
  grads = []
  for remat in (False, True):
    c = _config(remat)
    model = task.build_model(c.model)
    params = task.init_params(model, c, 0)
    loss = lambda p: jnp.mean(task.training_loss(model)(
        p, batch, jax.random.key(0))[0])
    grads.append(jax.grad(loss)(params))
  for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1])):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_simnpo_is_npo_on_the_mean_nll_without_a_reference(setup):
  task, model, params, original = setup
  batch, beta, delta = _batch(7), 2.0, 0.5
  term = llm.simnpo_forget(model, beta=beta, delta=delta)
  mean_nll = _nll(_answer_logprobs(model, params, batch), batch) / batch[
      "answer_mask"].sum(-1)
  want = np.mean(-(2 / beta) * _log_sigmoid(beta * (mean_nll - delta)))
  assert _apply(term, params, original, batch) == pytest.approx(want,
                                                                rel=1e-5)


def test_idkdpo_prefers_the_refusal_against_the_original(setup):
  task, model, params, original = setup
  batch, beta = _batch(8), 0.2
  nll = lambda p, a: _nll(_answer_logprobs(model, p, batch, a), batch, a)
  win = nll(original, "refusal") - nll(params, "refusal")
  lose = nll(original, "answer") - nll(params, "answer")
  want = np.mean(-(2 / beta) * _log_sigmoid(beta * (win - lose)))
  term = llm.idkdpo_forget(model, beta=beta)
  assert _apply(term, params, original, batch) == pytest.approx(want,
                                                                rel=1e-5)


def test_rmu_steers_the_chosen_layers_states(setup):
  task, model, params, original = setup
  batch, layer, steering = _batch(9), 1, 3.0
  tokens = np.concatenate([batch["prompt"], batch["answer"]], 1)
  mask = np.concatenate([batch["prompt_mask"], batch["answer_mask"]], 1)
  _, h = model.apply(params, tokens, mask, hidden=layer)
  # The same states from a one-layer model with the first layer's weights:
  # its final normed states are RMSNorm of the residual after layer 1.
  c = _config()
  c.model.text_layers = 1
  short = task.build_model(c.model)
  p = params["params"]
  short_params = {"params": {"model": {
      "embed_tokens": p["model"]["embed_tokens"], "layers_0":
      p["model"]["layers_0"], "norm": p["model"]["norm"]},
      "lm_head": p["lm_head"]}}
  _, normed = short.apply(short_params, tokens, mask, hidden=True)
  x = np.asarray(h, np.float64)
  x = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6)
  x = x * np.asarray(p["model"]["norm"]["scale"])
  np.testing.assert_allclose(x, normed, rtol=1e-4, atol=1e-5)
  u = np.random.default_rng(0).uniform(size=h.shape[-1])
  u = u / np.linalg.norm(u)
  term = llm.rmu_forget(model, layer=layer, steering=steering,
                        direction=jnp.asarray(u, jnp.float32))
  sq = ((np.asarray(h, np.float64) - steering * u) ** 2).mean(-1)
  want = np.mean((sq * mask).sum(-1) / mask.sum(-1))
  assert _apply(term, params, original, batch) == pytest.approx(want,
                                                                rel=1e-5)


def test_t5_scores_each_answer_token_behind_the_shifted_answer():
  """An encoder-decoder's training loss reads the decoder on the answer
  shifted right behind its start token: each token's log-probability
  equals the one decoding the answer's prefix alone gives."""
  c = _config()
  c.model.arch = "t5"
  c.model.text_layers = 1
  task = tasks.for_dataset(datasets.DATASETS["authors"])
  model = task.build_model(c.model)
  params = task.init_params(model, c, 0)
  batch = _batch(10)
  nll, _ = task.training_loss(model)(params, batch, jax.random.key(0))
  start = model.cfg.decoder_start_id
  for i in (2, 3):  # answers of 1 and 4 tokens
    n = int(batch["answer_mask"][i].sum())
    total = 0.0
    for t in range(n):
      prefix = np.asarray([[start, *batch["answer"][i, :t]]], np.int32)
      logits = model.apply(params, batch["prompt"][i:i + 1],
                           batch["prompt_mask"][i:i + 1], prefix)
      z = np.asarray(logits[0, -1], np.float64)
      total -= z[batch["answer"][i, t]] - np.log(np.exp(z).sum())
    assert float(nll[i]) == pytest.approx(total / n, rel=1e-4)


def test_hidden_states_methods_need_a_decoder_only_model():
  from mmul_jax import errors
  c = _config()
  c.model.arch = "t5"
  c.method.name = "rmu"
  with pytest.raises(errors.ConfigError, match="RMU reads a decoder-only"):
    config_schema.validate(c)
  c.method.name = "simnpo"
  c.method.simnpo.retain_loss = "hidden"
  with pytest.raises(errors.ConfigError, match="retain_loss 'hidden'"):
    config_schema.validate(c)
  c.method.simnpo.retain_loss = "kl"
  config_schema.validate(c)


def test_hidden_retain_compares_final_states_on_answer_tokens(setup):
  task, model, params, original = setup
  batch = _batch(11)
  tokens = np.concatenate([batch["prompt"], batch["answer"]], 1)
  mask = np.concatenate([batch["prompt_mask"], batch["answer_mask"]], 1)
  _, h = model.apply(params, tokens, mask, hidden=True)
  _, h0 = model.apply(original, tokens, mask, hidden=True)
  sq = ((np.asarray(h, np.float64) - np.asarray(h0, np.float64))[:, P:]
        ** 2).mean(-1)
  m = batch["answer_mask"]
  want = np.mean((sq * m).sum(-1) / m.sum(-1))
  assert _apply(llm.hidden_retain(model), params, original,
                batch) == pytest.approx(want, rel=1e-5)

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
from mmul_jax import losses
from mmul_jax import tasks
from mmul_jax.data import datasets
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
  return {"prompt": r.integers(4, V, (B, P)).astype(np.int32) * prompt_mask,
          "prompt_mask": prompt_mask,
          "answer": r.integers(4, V, (B, A)).astype(np.int32) * answer_mask,
          "answer_mask": answer_mask, "image_id": np.arange(B)}


def _answer_logprobs(model, params, batch):
  """log-softmax of the logits that predict each answer token (numpy)."""
  tokens = np.concatenate([batch["prompt"], batch["answer"]], 1)
  mask = np.concatenate([batch["prompt_mask"], batch["answer_mask"]], 1)
  z = np.asarray(model.apply(params, tokens, mask), np.float64)
  z = z[:, P - 1:P + A - 1]
  return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _nll(logp, batch):
  true = np.take_along_axis(logp, batch["answer"][..., None], -1)[..., 0]
  return -(true * batch["answer_mask"]).sum(-1)


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
  assert losses  # the package the terms come from

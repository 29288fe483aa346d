"""Contrastive and matching losses against numpy."""

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.losses import _contrastive as contrastive


def _log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_clip_contrastive_matches_numpy():
  rng = np.random.default_rng(0)
  v = rng.normal(size=(5, 4))
  t = rng.normal(size=(5, 4))
  scale = 2.0
  logits = np.exp(scale) * v @ t.T
  i2t = -np.diag(_log_softmax(logits))
  t2i = -np.diag(_log_softmax(logits.T))
  got = contrastive.clip_contrastive(jnp.asarray(v), jnp.asarray(t),
                                     logit_scale=jnp.asarray(scale))
  np.testing.assert_allclose(got, 0.5 * (i2t + t2i), rtol=1e-4)


def test_clip_contrastive_shares_target_between_same_image_captions():
  rng = np.random.default_rng(1)
  v = rng.normal(size=(4, 3))
  t = rng.normal(size=(4, 3))
  ids = np.array([0, 0, 1, 2])
  logits = v @ t.T
  target = (ids[:, None] == ids[None, :]).astype(float)
  target /= target.sum(-1, keepdims=True)
  i2t = -(target * _log_softmax(logits)).sum(-1)
  t2i = -(target * _log_softmax(logits.T)).sum(-1)
  got = contrastive.clip_contrastive(
      jnp.asarray(v), jnp.asarray(t), logit_scale=jnp.asarray(0.0),
      ids=jnp.asarray(ids))
  np.testing.assert_allclose(got, 0.5 * (i2t + t2i), rtol=1e-4)


def test_hard_negatives_are_never_positives():
  rng = np.random.default_rng(2)
  ids = jnp.asarray([0, 0, 1, 2, 3, 3])
  sim = jnp.asarray(rng.normal(size=(6, 6)) * 5)
  pos = contrastive.positive_mask(ids, ids)
  for seed in range(20):
    ti, ii = contrastive.sample_hard_negatives(jax.random.key(seed), sim, pos)
    assert np.all(np.asarray(ids)[np.asarray(ti)] != np.asarray(ids))
    assert np.all(np.asarray(ids)[np.asarray(ii)] != np.asarray(ids))


def test_itm_cross_entropy_matches_numpy():
  rng = np.random.default_rng(3)
  pos, nt, ni = (rng.normal(size=(4, 2)) for _ in range(3))
  expected = (-_log_softmax(pos)[:, 1] - _log_softmax(nt)[:, 0]
              - _log_softmax(ni)[:, 0]) / 3
  got = contrastive.itm_cross_entropy(jnp.asarray(pos), jnp.asarray(nt),
                                      jnp.asarray(ni))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_contrastive_losses_are_finite_and_compile_once():
  import chex

  @jax.jit
  @chex.assert_max_traces(n=1)
  def total(rng, v, t, ids, logits):
    itc = contrastive.clip_contrastive(v, t, logit_scale=jnp.float32(4.6),
                                       ids=ids)
    ti, ii = contrastive.sample_hard_negatives(
        rng, v @ t.T, contrastive.positive_mask(ids, ids))
    itm = contrastive.itm_cross_entropy(logits, logits[ti], logits[ii])
    return jnp.mean(itc) + jnp.mean(itm)

  rng = np.random.default_rng(4)
  for seed in range(3):
    v, t = (jnp.asarray(rng.normal(size=(6, 4)) * 30, jnp.float32)
            for _ in range(2))
    ids = jnp.asarray([0, 0, 1, 2, 3, 4])
    logits = jnp.asarray(rng.normal(size=(6, 2)) * 30, jnp.float32)
    out = total(jax.random.key(seed), v, t, ids, logits)
    assert np.isfinite(float(out))

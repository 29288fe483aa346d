"""The diffusion parts (`mmul_jax.diffusion`, `models.unet`): the noise
schedules against an independent numpy computation, the target and its
inversion, the DDIM sampler against a numpy loop with an exact denoiser
(it returns the denoiser's image; guidance mixes two), deterministic per
seed and compiled once, and the UNet reading its caption except under the
null context."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax.diffusion import sampling
from mmul_jax.diffusion import schedule as schedule_lib
from mmul_jax.models import unet


def test_linear_schedule_is_the_product_of_one_minus_beta():
  s = schedule_lib.Schedule("linear", 50, beta_start=1e-3, beta_end=0.2)
  betas = [1e-3 + (0.2 - 1e-3) * i / 49 for i in range(50)]
  want, prod = [], 1.0
  for b in betas:
    prod *= 1.0 - b
    want.append(prod)
  np.testing.assert_allclose(s.alpha_bar, want, rtol=1e-6)


def test_cosine_schedule_follows_its_closed_form_until_the_cap():
  n = 100
  s = schedule_lib.Schedule("cosine", n)
  f = [np.cos(((t / n) + 0.008) / 1.008 * np.pi / 2) ** 2
       for t in range(n + 1)]
  closed = np.array([f[t + 1] / f[0] for t in range(n)])
  betas = 1 - closed / np.concatenate([[1.0], closed[:-1]])
  capped = betas > 0.999
  assert capped.sum() == 1 and capped[-1]  # only the last step is capped
  np.testing.assert_allclose(s.alpha_bar[:-1], closed[:-1], rtol=1e-5)
  np.testing.assert_allclose(s.alpha_bar[-1], closed[-2] * 0.001, rtol=1e-5)
  assert np.all(np.diff(s.alpha_bar) < 0)


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_the_target_inverts_to_the_clean_image_and_noise(prediction):
  s = schedule_lib.Schedule("linear", 100, prediction=prediction)
  x0, noise = jax.random.normal(jax.random.key(0), (2, 3, 4, 4, 3))
  t = jnp.array([3, 40, 99])
  x_t = s.noisy(x0, t, noise)
  got_x0, got_eps = s.split(x_t, t, s.target(x0, t, noise))
  np.testing.assert_allclose(got_x0, x0, atol=2e-4)
  np.testing.assert_allclose(got_eps, noise, atol=2e-4)
  if prediction == "v":
    a = s.alpha_bar[np.asarray(t)][:, None, None, None]
    want = np.sqrt(a) * noise - np.sqrt(1 - a) * x0
    np.testing.assert_allclose(s.target(x0, t, noise), want, atol=1e-6)


class _Oracle(nn.Module):
  """The exact denoiser of one image per condition: its `cond` parameter
  for a caption, `null` for the null context (what guidance mixes)."""

  schedule: schedule_lib.Schedule

  @nn.compact
  def __call__(self, x_t, t, text, uncond):
    cond = self.param("cond", nn.initializers.zeros, x_t.shape[1:])
    null = self.param("null", nn.initializers.zeros, x_t.shape[1:])
    x0 = jnp.where(uncond[:, None, None, None], null, cond)
    a = jnp.asarray(self.schedule.alpha_bar)[t][:, None, None, None]
    eps = (x_t - jnp.sqrt(a) * x0) / jnp.sqrt(1 - a)
    return self.schedule.target(x0, t, eps)


def _numpy_ddim(s, cond, null, noise, steps, w):
  ab = s.alpha_bar.astype(np.float64)
  ts = np.linspace(len(ab) - 1, 0, steps).round().astype(int)
  x = noise.astype(np.float64)
  for i, t in enumerate(ts):
    eps = lambda x0: (x - np.sqrt(ab[t]) * x0) / np.sqrt(1 - ab[t])
    e = eps(null) + w * (eps(cond) - eps(null))
    x0 = np.clip((x - np.sqrt(1 - ab[t]) * e) / np.sqrt(ab[t]), -1, 1)
    e = (x - np.sqrt(ab[t]) * x0) / np.sqrt(1 - ab[t])
    a_prev = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
    x = np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * e
  return x


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
@pytest.mark.parametrize("guidance", [1.0, 2.5])
def test_ddim_matches_a_numpy_loop_with_an_exact_denoiser(prediction,
                                                           guidance):
  s = schedule_lib.Schedule("cosine", 200, prediction=prediction)
  cond = np.linspace(-0.5, 0.5, 4 * 4 * 3).reshape(4, 4, 3)
  null = -0.3 * np.ones((4, 4, 3))
  model = _Oracle(s)
  text = jnp.zeros((2, 5), jnp.int32)
  params = {"params": {"cond": jnp.asarray(cond, jnp.float32),
                       "null": jnp.asarray(null, jnp.float32)}}
  rng = jax.random.key(3)
  got = sampling.ddim_sample(model, params, text, rng, schedule=s,
                             num_steps=10, image_size=4, guidance=guidance)
  noise = np.asarray(jax.random.normal(rng, (2, 4, 4, 3)))
  want = _numpy_ddim(s, cond, null, noise, 10, guidance)
  np.testing.assert_allclose(np.asarray(got), want, atol=2e-4)
  if guidance == 1.0:  # the exact denoiser's own image
    np.testing.assert_allclose(np.asarray(got), np.broadcast_to(cond, got.shape),
                               atol=2e-4)


SIZES = dict(image_size=8, channels=(8, 16), attention_levels=(1,),
             num_heads=2, vocab_size=20, context_length=6, text_width=16,
             text_layers=1, text_heads=2, eot_id=2)


def _unet():
  model = unet.TextToImageUNet(**SIZES)
  text = jnp.array([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0]], jnp.int32)
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
  t = jnp.array([10, 500])
  params = jax.jit(model.init)(jax.random.key(0), x, t, text,
                               jnp.zeros(2, bool))
  return model, params, x, t, text


def test_the_unet_reads_its_caption_except_under_the_null_context():
  model, params, x, t, text = _unet()
  apply = jax.jit(model.apply)
  out = apply(params, x, t, text, jnp.zeros(2, bool))
  assert out.shape == x.shape and out.dtype == jnp.float32
  other = apply(params, x, t, text[::-1], jnp.zeros(2, bool))
  assert np.abs(np.asarray(out - other)).max() > 1e-4
  null_a = apply(params, x, t, text, jnp.ones(2, bool))
  null_b = apply(params, x, t, text[::-1], jnp.ones(2, bool))
  np.testing.assert_allclose(np.asarray(null_a), np.asarray(null_b),
                             atol=1e-6)
  later = apply(params, x, t + 300, text, jnp.zeros(2, bool))
  assert np.abs(np.asarray(out - later)).max() > 1e-4  # reads t


def test_the_sampler_is_deterministic_per_seed_and_compiles_once():
  model, params, _, _, text = _unet()
  s = schedule_lib.Schedule("cosine", 100)
  run = lambda p, seed, w: sampling.ddim_sample(
      model, p, text, jax.random.key(seed), schedule=s, num_steps=4,
      image_size=8, guidance=w)
  before = sampling.ddim_sample._cache_size()
  a, b = run(params, 0, 2.0), run(params, 0, 2.0)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert np.abs(np.asarray(a - run(params, 1, 2.0))).max() > 1e-3
  shifted = jax.tree.map(lambda x: x * 1.01, params)
  run(shifted, 0, 3.0)  # new weights and guidance: no new compilation
  assert sampling.ddim_sample._cache_size() == before + 1
  assert np.isfinite(np.asarray(a)).all() and np.abs(a).max() <= 1.0 + 1e-5

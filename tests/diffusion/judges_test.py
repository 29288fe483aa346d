"""What judges a text-to-image model here: the shapes items' colour code
read back from an image (every drawn item's code, chance on noise), the
Fréchet distance against its closed form for diagonal Gaussians, the
per-example denoising losses (the same however batched, lower for the
pair a denoiser was built for), and the sample grid's tiling and PNG."""

import os

import flax.linen as nn
import jax.numpy as jnp
import matplotlib.image
import numpy as np

from mmul_jax.data.generated import shapes
from mmul_jax.diffusion import schedule as schedule_lib
from mmul_jax.diffusion import scoring
from mmul_jax.evaluation import frechet
from mmul_jax.evaluation import sample_grid


def test_the_code_reads_back_from_every_drawn_item():
  items = [shapes.make_item(0, 0, i, image_size=32, num_captions=1,
                            name="tovika") for i in range(40)]
  got = shapes.decode_code(np.stack([it.image for it in items]))
  np.testing.assert_array_equal(got, [it.code for it in items])
  noise = np.random.default_rng(0).integers(0, 256, (400, 32, 32, 3),
                                            dtype=np.uint8)
  # Noise hits a given item's code about one block in four at best.
  hits = (shapes.decode_code(noise) == np.asarray(items[0].code)).mean()
  assert hits < 0.5


def test_frechet_distance_of_diagonal_gaussians_has_its_closed_form():
  rng = np.random.default_rng(0)
  n = 200_000
  s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 1.0])
  a = rng.normal([0, 1, 2], np.sqrt(s1), (n, 3))
  b = rng.normal([1, 1, 0], np.sqrt(s2), (n, 3))
  want = 1 + 0 + 4 + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()
  assert abs(frechet.frechet_distance(a, b) - want) < 0.05
  assert frechet.frechet_distance(a, a) < 1e-6


class _Denoiser(nn.Module):
  """Predicts the noise exactly for its `x0` parameter's image (`echo`:
  returns its input, whose loss depends on the noise)."""

  schedule: schedule_lib.Schedule
  echo: bool = False

  @nn.compact
  def __call__(self, x_t, t, text, uncond):
    x0 = self.param("x0", nn.initializers.zeros, x_t.shape[1:])
    if self.echo:
      return x_t
    a = jnp.asarray(self.schedule.alpha_bar)[t][:, None, None, None]
    return (x_t - jnp.sqrt(a) * x0) / jnp.sqrt(1 - a)


def test_example_losses_do_not_depend_on_the_batching():
  s = schedule_lib.Schedule("cosine", 100)
  model = _Denoiser(s)
  target = np.random.default_rng(1).uniform(-1, 1, (4, 4, 3)).astype(
      np.float32)
  params = {"params": {"x0": jnp.asarray(target)}}
  images = np.random.default_rng(2).uniform(-1, 1, (7, 4, 4, 3)).astype(
      np.float32)
  images[3] = target
  text = np.zeros((7, 3), np.int32)
  a = scoring.example_losses(model, params, images, text, schedule=s,
                             batch_size=3)
  b = scoring.example_losses(model, params, images, text, schedule=s,
                             batch_size=7)
  assert a.shape == (7, len(scoring.TIMESTEP_FRACTIONS))
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  assert a[3].max() < 1e-8 and a[np.arange(7) != 3].min() > 1e-3
  echo = _Denoiser(s, echo=True)
  seeded = lambda seed: scoring.example_losses(echo, params, images, text,
                                               schedule=s, seed=seed)
  np.testing.assert_array_equal(seeded(0), seeded(0))
  assert not np.allclose(seeded(0), seeded(1))


def test_the_grid_tiles_each_model_s_images(tmp_path):
  rng = np.random.default_rng(0)
  rows = [rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
          for _ in range(2)]
  m = sample_grid.mosaic(rows, gap=2)
  assert m.shape == (2 * 8 + 2, 3 * 8 + 2 * 2, 3)
  np.testing.assert_array_equal(m[10:18, 20:28], rows[1][2])
  assert (m[8:10] == 255).all()
  path = sample_grid.save(str(tmp_path / "g" / "samples.png"),
                          {"original": np.zeros((3, 8, 8, 3)),
                           "retrained": np.ones((3, 8, 8, 3))},
                          ["a", "b", "c"], title="t")
  assert os.path.exists(path) and matplotlib.image.imread(path).ndim == 3
  assert sample_grid.to_uint8(np.array([-2.0, 0.0, 1.0])).tolist() == [
      0, 128, 255]

"""ESD's negative-guidance term (`methods.esd`, `TextToImage.esd_term`)
against a numpy computation of its formula on a tiny UNet: the model's
prediction for the deleted caption against the original's null
prediction guided away from the caption by eta; zero at eta 0 for a model
whose conditional prediction is the original's null one; refused on
other task kinds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import methods
from mmul_jax.data import datasets
from mmul_jax.diffusion import schedule as schedule_lib
from mmul_jax.tasks import model_terms
from mmul_jax.tasks import text_to_image


def _setup():
  c = config_schema.default_config()
  c.data.name = "shapes_t2i"
  c.data.image_size = c.model.image_size = 8
  c.model.arch = "unet"
  c.model.unet_channels = (8,)
  c.model.unet_attention_levels = ()
  c.model.unet_heads = c.model.text_heads = 2
  c.model.text_width = 16
  c.model.diffusion_steps = 50
  task = text_to_image.TextToImage(datasets.spec_of(c.data))
  model = task.build_model(c.model)
  theta = task.init_params(model, c, 0)
  theta0 = task.init_params(model, c, 1)
  batch = {"image": jax.random.uniform(jax.random.key(2), (3, 8, 8, 3),
                                       minval=-1, maxval=1),
           "text": np.zeros((3, c.model.context_length), np.int32)}
  batch["text"][:, :4] = [[1, 5, 6, 2], [1, 7, 2, 0], [1, 9, 2, 0]]
  batch["text"] = jnp.asarray(batch["text"])
  return task, model, theta, theta0, batch


@pytest.mark.parametrize("eta", [0.0, 1.5])
def test_esd_matches_its_formula(eta):
  task, model, theta, theta0, batch = _setup()
  term = task.esd_term(model, eta=eta)
  rng = jax.random.key(7)
  frozen = {model_terms.ORIGINAL: theta0}
  loss = jax.jit(lambda th, fr, b, r: term.apply(
      term.init(th), th, fr, b, rng=r)[0])(theta, frozen, batch, rng)
  # The same draws, by hand.
  kt, kn = jax.random.split(rng)
  s = task.schedule
  t = schedule_lib.sample_timesteps(kt, 3, s.num_steps)
  x_t = s.noisy(batch["image"], t, jax.random.normal(kn, (3, 8, 8, 3)))
  apply = jax.jit(model.apply)
  run = lambda p, null: np.asarray(apply(p, x_t, t, batch["text"],
                                         jnp.full((3,), null)))
  target = run(theta0, True) - eta * (run(theta0, False)
                                      - run(theta0, True))
  want = ((run(theta, False) - target) ** 2).reshape(3, -1).mean(-1).mean()
  np.testing.assert_allclose(float(loss), want, rtol=1e-5)
  assert want > 1e-4  # the two models differ


def test_esd_runs_on_text_to_image_only():
  c = config_schema.default_config()
  c.method.name = "esd"
  with pytest.raises(errors.ConfigError, match="runs on text_to_image"):
    config_schema.validate(c)
  assert methods.get("esd").runs_on("text_to_image")


@pytest.mark.parametrize("subset", ["cross_attention", "unconditional"])
def test_esd_x_and_esd_u_move_only_their_weights(subset):
  """ESD-x trains the UNet's cross-attention projections only, ESD-u the
  UNet's other weights (the text tower and null context frozen); through
  the unlearning optimiser (AdamW with weight decay) a frozen weight gets
  no update at all."""
  from mmul_jax.methods import base
  from mmul_jax.methods import esd
  from mmul_jax.unlearn import unlearn_phase
  task, model, theta, _, _ = _setup()
  mask = esd.parameter_mask(theta, subset)
  flat = jax.tree_util.tree_flatten_with_path(mask)[0]
  moving = {"/".join(str(getattr(k, "key", k)) for k in path)
            for path, m in flat if float(m.max()) == 1.0}
  assert moving and all(float(m.min()) == float(m.max()) for _, m in flat)
  if subset == "cross_attention":
    assert all("/cross_" in p for p in moving)
    assert any(p.endswith("cross_k/kernel") for p in moving)
  else:
    assert not any("cross_" in p or "/txt/" in p or "null_context" in p
                   for p in moving)
    assert any("conv_in" in p for p in moving)
  c = config_schema.default_config()
  c.method.name = "esd"
  c.method.esd.params = subset
  ctx = base.Context(task, model, theta, c, c.method.esd, None, None, {})
  plan = esd.build(ctx)
  assert 0 < plan.info["trained_fraction"] < 1
  tx = unlearn_phase.optimizer(c, plan).tx
  grads = jax.tree.map(jnp.ones_like, theta)
  updates, _ = tx.update(grads, tx.init(theta), theta)
  for (path, u), (_, m) in zip(jax.tree_util.tree_flatten_with_path(
      updates)[0], flat):
    moved = bool(jnp.any(u != 0))
    assert moved == (float(m.max()) == 1.0), path


def test_esd_x_under_lora_is_refused():
  c = config_schema.default_config()
  c.data.name = "shapes_t2i"
  c.data.mean = c.data.std = (0.5, 0.5, 0.5)
  c.data.image_size = c.model.image_size = 16
  c.model.arch = "unet"
  c.method.name = "esd"
  c.method.esd.params = "cross_attention"
  c.unlearn.lora_rank = 4
  with pytest.raises(errors.ConfigError, match="only the adapters train"):
    config_schema.validate(c)

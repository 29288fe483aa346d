"""`mmul_gen`'s terms (`tasks.image_generation_terms`) against numpy on a
tiny LLaVA-layout model: the decoupling target is the original's answer
distribution for another deleted person's context, the retention terms
read only their rows, and every retention term is 0 at the original."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import losses
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.models import language_layouts

MODEL = dict(arch="llava", image_size=16, patch_size=4, vision_width=32,
             vision_layers=1, vision_heads=2, mlp_ratio=2.0, vocab_size=40,
             context_length=16, text_width=32, text_layers=1, text_heads=4,
             kv_heads=2)


def _batch(seed, b=6, p=5, a=4):
  k = jax.random.split(jax.random.key(seed), 3)
  answer_mask = jnp.arange(a)[None, :] < jnp.array([4, 3, 2, 4, 3, 4])[:, None]
  return {"prompt": jax.random.randint(k[0], (b, p), 1, 40),
          "prompt_mask": jnp.ones((b, p), bool),
          "answer": jax.random.randint(k[1], (b, a), 1, 40),
          "answer_mask": answer_mask,
          "image": jax.random.normal(k[2], (b, 16, 16, 3)),
          "image_mask": jnp.array([True, False, True, True, False, True]),
          "image_id": jnp.array([0, 0, 1, 2, 3, 4])}


@pytest.fixture(scope="module")
def setup():
  task = tasks.get("image_generation")(datasets.DATASETS["persons"])
  model = task.build_model(MODEL)
  b = _batch(0)
  inputs = language_layouts.for_model(model).inputs(b)
  original = model.init(jax.random.key(1), *inputs)
  moved = jax.tree.map(lambda x: x + 0.05 * jax.random.normal(
      jax.random.key(2), x.shape), original)
  return task, model, original, moved


def _kl_rows(teacher, student, mask):
  """numpy: per row, the answer tokens' mean KL(teacher ‖ student)."""
  lt = teacher - np.log(np.exp(teacher).sum(-1, keepdims=True))
  ls = student - np.log(np.exp(student).sum(-1, keepdims=True))
  kl = (np.exp(lt) * (lt - ls)).sum(-1)
  m = np.asarray(mask, np.float64)
  return (kl * m).sum(1) / np.maximum(m.sum(1), 1)


def _answer_logits(task, model, params, batch):
  lm = task.layout
  return np.asarray(lm.answer_logits(model.apply(params, *lm.inputs(batch)),
                                     batch), np.float64)


def test_decoupling_targets_another_persons_context(setup):
  task, model, original, moved = setup
  made = task.mmul_gen_terms(model)
  df, rng = _batch(3), jax.random.key(7)
  value, aux, _ = made.md.apply((), moved, {"original": original},
                                {"df": df, "dr": df}, rng=rng)
  perm, valid = losses.derangement(jax.random.split(rng)[0], df["image_id"])
  assert bool(valid)
  perm = np.asarray(perm)
  assert np.all(np.asarray(df["image_id"])[perm]
                != np.asarray(df["image_id"]))
  swapped = {**df, **{k: df[k][perm] for k in ("prompt", "prompt_mask",
                                                "image", "image_mask")}}
  want = _kl_rows(_answer_logits(task, model, original, swapped),
                  _answer_logits(task, model, moved, df),
                  df["answer_mask"]).mean()
  np.testing.assert_allclose(float(value), want, rtol=1e-4)
  assert float(aux["derangement_valid"]) == 1.0


def test_retention_reads_its_rows_and_is_zero_at_the_original(setup):
  task, model, original, moved = setup
  made = task.mmul_gen_terms(model)
  b, rng = _batch(4), jax.random.key(0)
  frozen = {"original": original}
  for term in (made.vision, made.text, made.mkr):
    assert abs(float(term.apply((), original, frozen, b, rng=rng)[0])) < 1e-6
  rows = _kl_rows(_answer_logits(task, model, original, b),
                  _answer_logits(task, model, moved, b), b["answer_mask"])
  has = np.asarray(b["image_mask"])
  text = float(made.text.apply((), moved, frozen, b, rng=rng)[0])
  mkr = float(made.mkr.apply((), moved, frozen, b, rng=rng)[0])
  np.testing.assert_allclose(text, rows[~has].mean(), rtol=1e-4)
  np.testing.assert_allclose(mkr, rows[has].mean(), rtol=1e-4)
  enc = lambda p: np.asarray(model.apply(p, b["image"],
                                         method=model.encode_image))
  sq = ((enc(moved) - enc(original)) ** 2).mean(axis=(1, 2))
  vision = float(made.vision.apply((), moved, frozen, b, rng=rng)[0])
  np.testing.assert_allclose(vision, sq[has].mean(), rtol=1e-4)


def test_mmul_gen_runs_only_on_image_conditioned_generation():
  c = config_schema.default_config_for("mmul_gen")
  assert (c.data.name, c.model.arch) == ("persons", "llava")
  config_schema.validate(c)
  c.method.name = "mmul"
  with pytest.raises(errors.ConfigError, match="use method.name = "
                     "'mmul_gen'"):
    config_schema.validate(c)
  t = config_schema.default_config_for("simnpo")
  t.method.name = "mmul_gen"
  with pytest.raises(errors.ConfigError, match="runs on image_generation "
                     "tasks only"):
    config_schema.validate(t)

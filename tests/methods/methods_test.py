"""Every method through the one loop; method pieces against numpy."""

import math
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from mmul_jax import errors
from mmul_jax import gradient_transforms as gt
from mmul_jax import experiment
from mmul_jax import losses
from mmul_jax import methods
from mmul_jax import models
from mmul_jax import tasks
from mmul_jax.methods import distill
from mmul_jax.methods import finetune
from mmul_jax.methods import mmul
from mmul_jax.methods import noise
from mmul_jax.methods import relabel
from mmul_jax.methods import terms
from mmul_jax.unlearn import phases


@pytest.fixture(scope="module")
def setup(tiny_builder, data_dir, tiny_config, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("methods")

  def make(**overrides):
    c = tiny_config.copy_and_resolve_references()
    c.data.data_dir = data_dir
    c.unlearn.num_steps = 2
    c.update_from_flattened_dict(overrides)
    return experiment.setup(c, str(workdir))

  original, _ = phases.train_model(make(), "original")
  return make, original


RETRIEVAL = tasks.Retrieval(None)  # the tiny model's task kind


def _max_change(a, b):
  return max(float(jnp.max(jnp.abs(x - y))) for x, y in
             zip(jax.tree.leaves(a), jax.tree.leaves(b)))


# The default suite runs these through the loop here; every other method
# runs through it in a whole run on a fake real-data download
# (tests/real_data_run_test.py: mmul_plus, salun, randlabel, scrub,
# bad_teaching, neggrad, npo, delete, dtd, fisher), and retrain is the
# reference every run trains. The slow suite runs every method here.
_DEFAULT_LOOP_METHODS = ("finetune", "mmul", "neggrad_plus", "l1_sparse")


@pytest.mark.parametrize("name", [
    n if n in _DEFAULT_LOOP_METHODS else pytest.param(
        n, marks=pytest.mark.slow)
    for n in sorted(methods.METHODS)
    if methods.get(n).runs_on("retrieval")])
def test_every_method_runs_through_the_same_loop(setup, name):
  make, original = setup
  exp = make(**{"method.name": name})
  params, info = phases.unlearn_model(exp, original)
  leaves = jax.tree.leaves(params)
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in leaves)
  assert info["wall_seconds"] > 0
  assert _max_change(params, original) > 0  # the model changed
  if name != "retrain":
    assert info["history"] and np.isfinite(info["history"][-1]["loss"])


@pytest.mark.slow
def test_soul_runs_any_method_with_sophiag(setup):
  """unlearn.second_order=sophia swaps NPO's AdamW for SophiaG (its moment
  and curvature state are in the checkpointed optimiser state), its own
  unlearning directory; a noise-only method refuses it before any
  compute."""
  make, original = setup
  sophia = {"method.name": "npo", "unlearn.second_order": "sophia",
            "unlearn.sophia_batch_size": 8}
  exp = make(**sophia)
  plan = methods.build(phases.context(exp, original))
  states = jax.tree.leaves(
      phases.optimizer(exp.config, plan).tx.init(original),
      is_leaf=lambda x: isinstance(x, gt.SophiaState))
  assert any(isinstance(x, gt.SophiaState) for x in states)
  params, info = phases.unlearn_model(exp, original)
  assert _max_change(params, original) > 0
  assert np.isfinite(info["history"][-1]["loss"])
  plain = make(**{"method.name": "npo"})
  assert phases.unlearn_dir(exp) != phases.unlearn_dir(plain)
  with pytest.raises(errors.ConfigError, match="fisher.*only adds noise"):
    make(**{"method.name": "fisher", "unlearn.second_order": "sophia"})


@pytest.mark.slow
def test_salun_moves_only_salient_weights(setup):
  make, original = setup
  exp = make(**{"method.name": "salun", "unlearn.weight_decay": 0.0,
                "method.salun.threshold": 0.3})
  plan = methods.build(phases.context(exp, original))
  mask = plan.gradient_transforms[0].init(original).mask
  kept = sum(float(m.sum()) for m in jax.tree.leaves(mask))
  total = sum(m.size for m in jax.tree.leaves(mask))
  assert kept / total == pytest.approx(0.3, abs=0.01)
  params, _ = phases.unlearn_model(exp, original)
  for p, p0, m in zip(jax.tree.leaves(params), jax.tree.leaves(original),
                      jax.tree.leaves(mask)):
    frozen = np.asarray(m) == 0
    np.testing.assert_array_equal(np.asarray(p)[frozen],
                                  np.asarray(p0)[frozen])


def test_bad_teaching_uses_a_random_teacher(setup):
  make, original = setup
  plan = methods.build(phases.context(
      make(**{"method.name": "bad_teaching"}), original))
  assert set(plan.frozen) == {"bad"}  # the loop adds the original
  assert _max_change(plan.frozen["bad"], original) > 0.01


@pytest.mark.parametrize("n,wd,expected", [
    (145_000, 0.02, 0.40),  # Flickr30K, ALBEF (reference spec §2.1)
    (145_000, 0.05, 0.065),  # Flickr30K, BLIP
    (86_373, 0.02, 0.66),  # NLVR2, ALBEF
])
def test_dtd_sigma_reproduces_the_reference_values(n, wd, expected):
  sigma = noise.dtd_sigma(n=n, steps=1, weight_decay=wd, epsilon=5.0)
  assert sigma == pytest.approx(expected, rel=0.05)


def test_dtd_sigma_formula_by_hand():
  n, wd, eps, steps = 1000, 0.1, 2.0, 3
  gamma = (4 - wd - wd) / (4 - wd + wd)
  lg = math.log(n ** 2)
  expected = (4 * math.sqrt(2) * (1 + wd) * gamma ** steps
              / (wd * n * (1 - gamma ** steps)
                 * (math.sqrt(lg + eps) - math.sqrt(lg))))
  assert noise.dtd_sigma(n=n, steps=steps, weight_decay=wd,
                         epsilon=eps) == pytest.approx(expected, rel=1e-12)


def test_scrub_alternates_max_and_min_steps():
  select = distill.scrub_phase(period=5, max_steps=2, max_periods=2)
  phases = [int(select(jnp.int32(t))) for t in range(13)]
  assert phases == [0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]


def test_l1_weight_decays_linearly_to_zero():
  w = finetune.l1_weight(alpha=0.4, num_steps=10, no_l1_steps=2)
  np.testing.assert_allclose([float(w(t)) for t in (0, 4, 8, 9)],
                             [0.4, 0.2, 0.0, 0.0], atol=1e-7)


def test_relabel_gives_every_deleted_image_another_images_caption():
  r = np.random.default_rng(0)
  ids = np.array([7, 8, 9, 10, 11, 12])
  df = {"image": r.normal(size=(6, 2)).astype(np.float32),
        "text": np.arange(6)[:, None] * np.ones((1, 3), np.int32) + ids[:,
                                                                        None],
        "image_id": ids}
  dr = {"image": r.normal(size=(4, 2)).astype(np.float32),
        "text": np.full((4, 3), 99, np.int32), "image_id": np.arange(4)}
  out = relabel.relabel_and_merge({"df": df, "dr": dr}, jax.random.key(1))
  text, image_id = np.asarray(out["text"]), np.asarray(out["image_id"])
  assert text.shape == (10, 3)
  owner = {tuple(df["text"][i]): ids[i] for i in range(6)}
  for i in range(6):
    assert owner[tuple(text[i])] != ids[i]  # never its own caption
  assert sorted(owner[tuple(t)] for t in text[:6]) == sorted(ids)
  np.testing.assert_array_equal(image_id[:6], -1 - np.arange(6))
  np.testing.assert_array_equal(text[6:], dr["text"])
  np.testing.assert_array_equal(np.asarray(out["image"])[:6], df["image"])


def test_relabel_merges_graph_batches_leaf_by_leaf():
  # A graph-text batch's "image" is a dict of per-molecule padded arrays.
  graph = lambda n, v: {"nodes": np.full((n, 5, 8), v, np.int32),
                        "senders": np.full((n, 6), v, np.int32)}
  df = {"image": graph(3, 1), "text": np.ones((3, 4), np.int32),
        "image_id": np.arange(3), "label": np.zeros(3, np.int32)}
  dr = {"image": graph(2, 2), "text": np.zeros((2, 4), np.int32),
        "image_id": np.arange(3, 5), "label": np.ones(2, np.int32)}
  for merge in (relabel.relabel_and_merge, relabel.wrong_labels_and_merge(3)):
    out = merge({"df": df, "dr": dr}, jax.random.key(0))
    assert out["image"]["nodes"].shape == (5, 5, 8)
    np.testing.assert_array_equal(out["image"]["senders"][:, 0],
                                  [1, 1, 1, 2, 2])


def _softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _two_models_on_a_batch(tiny_config):
  """A tiny retrieval model's parameters for a student and a teacher, a
  batch where two captions share an image, and numpy's view of both
  models' logit views with their true-answer masks."""
  c = tiny_config.model
  model = models.build(c)
  r = np.random.default_rng(0)
  images = r.normal(size=(4, c.image_size, c.image_size, 3)).astype(
      np.float32)
  text = r.integers(4, c.vocab_size, (4, c.context_length)).astype(np.int32)
  text[:, -1] = c.eot_id
  batch = {"image": images, "text": text, "image_id": np.array([0, 0, 1, 2])}
  init, apply = jax.jit(model.init), jax.jit(model.apply)  # eager is slow
  student = init(jax.random.key(0), images[:1], text[:1])
  teacher = init(jax.random.key(1), images[:1], text[:1])

  def views(params):
    out = apply(params, images, text)
    s = np.exp(float(out["logit_scale"]))
    v, t = np.asarray(out["image_embed"]), np.asarray(out["text_embed"])
    return [s * v @ t.T, s * t @ v.T, np.asarray(out["itm_logits"])]

  pos = batch["image_id"][:, None] == batch["image_id"][None, :]
  masks = [pos, pos, np.array([[False, True]] * 4)]
  return model, batch, student, teacher, views, masks


def test_distillation_terms_match_numpy(tiny_config):
  model, batch, student, teacher, views, masks = _two_models_on_a_batch(
      tiny_config)
  for term, tau, mask_on in (
      (terms.distillation(RETRIEVAL, model, temperature=2.0), 2.0, False),
      (terms.decoupled_distillation(RETRIEVAL, model, temperature=1.0), 1.0,
       True)):
    value, aux, _ = jax.jit(lambda s, t, term=term: term.apply(
        term.init(s), s, {"original": t}, batch, rng=jax.random.key(0)))(
            student, teacher)
    per_view = []
    for zt, zs, m in zip(views(teacher), views(student), masks):
      p = _softmax(np.where(m, -np.inf, zt / tau) if mask_on else zt / tau)
      q = _softmax(zs / tau)
      with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * (np.log(p) - np.log(q)), 0).sum(-1)
      per_view.append(tau ** 2 * kl)
    np.testing.assert_allclose(value, np.mean(sum(per_view) / 3), rtol=2e-4)
    np.testing.assert_allclose(aux["kl_itm"], per_view[2].mean(), rtol=2e-4)


@pytest.mark.slow
def test_npo_term_matches_numpy(tiny_config):
  """NPO over the logit views: per view, −(2/β) log σ(β (CE_θ − CE_θ₀))
  with CE the true answers' (a caption's two matching images) NLL."""
  model, batch, student, teacher, views, masks = _two_models_on_a_batch(
      tiny_config)
  beta = 0.5
  term = terms.npo(RETRIEVAL, model, beta=beta)
  value, aux, _ = jax.jit(lambda s, t: term.apply(
      term.init(s), s, {"original": t}, batch, rng=jax.random.key(0)))(
          student, teacher)
  nll = lambda z, m: -np.log((_softmax(z) * m).sum(-1))
  per_view = []
  for zt, zs, m in zip(views(teacher), views(student), masks):
    gap = nll(zs, m) - nll(zt, m)
    per_view.append(-(2 / beta) * np.log(1 / (1 + np.exp(-beta * gap))))
  np.testing.assert_allclose(value, np.mean(sum(per_view) / 3), rtol=2e-4)
  np.testing.assert_allclose(aux["npo_itm"], per_view[2].mean(), rtol=2e-4)
  # At the original NPO's gradient is gradient ascent's on the views' NLL.
  ce = lambda p: jnp.mean(sum(
      losses.true_answer_nll(z, m) for z, m in zip(_views_jax(
          model, p, batch), masks)) / 3)
  at_original = jax.jit(jax.grad(lambda p: term.apply(
      term.init(p), p, {"original": teacher}, batch,
      rng=jax.random.key(0))[0]))(teacher)
  ascent = jax.jit(jax.grad(lambda p: -ce(p)))(teacher)
  for a, b in zip(jax.tree.leaves(at_original), jax.tree.leaves(ascent)):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)


def _views_jax(model, params, batch):
  out = model.apply(params, batch["image"], batch["text"])
  s = jnp.exp(out["logit_scale"])
  v, t = out["image_embed"], out["text_embed"]
  return [s * v @ t.T, s * t @ v.T, out["itm_logits"]]


def test_mmul_ablation_leaves_out_zero_weight_terms(tiny_config):
  model = models.build(tiny_config.model)
  term = mmul.loss(RETRIEVAL, model, md_weight=1.0, ukr_weight=0.0, mkr_weight=2.0)
  state = term.init({})
  assert set(state.weights) == {"md", "mkr"}
  h = tiny_config.method.mmul.copy_and_resolve_references()
  h.update(md_weight=0.0, mkr_weight=0.0)
  assert mmul.parts_read(h) == ("df",)
  h.update(md_weight=1.0, negative_source="dr")
  assert mmul.parts_read(h) == ("df", "dr")
  with pytest.raises(ValueError, match="nonzero weight"):
    mmul.loss(RETRIEVAL, model, md_weight=0, ukr_weight=0, mkr_weight=0)


def test_unknown_method_is_a_config_error():
  with pytest.raises(errors.ConfigError, match="unknown method 'forget_all'"
                     ".*available: bad_teaching"):
    methods.get("forget_all")


@pytest.mark.parametrize("name", [
    pytest.param("scrub", marks=pytest.mark.slow),
    pytest.param("l1_sparse", marks=pytest.mark.slow)])
def test_unlearning_resumes_with_its_loss_state(setup, name):
  """Scheduled weights and SCRUB's phase live in the checkpointed loss
  state: a run killed after its mid-run checkpoint ends bit-identical."""
  make, original = setup
  overrides = {"method.name": name, "unlearn.num_steps": 4,
               "unlearn.checkpoint_every": 2, "method.scrub.period": 3,
               "method.scrub.max_steps": 1}
  exp = make(**overrides)
  full, _ = phases.unlearn_model(exp, original)
  directory = phases.unlearn_dir(exp)
  for entry in ("4", phases.UNLEARN_INFO_FILE):
    path = os.path.join(directory, entry)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
  resumed, info = phases.unlearn_model(make(**overrides), original)
  assert info["resumed_from"] == 2
  jax.tree.map(np.testing.assert_array_equal, resumed, full)


@pytest.mark.parametrize("name", [
    "mmul", pytest.param("bad_teaching", marks=pytest.mark.slow)])
def test_lora_unlearning_changes_only_kernels_through_adapters(setup, name):
  make, original = setup
  exp = make(**{"method.name": name, "unlearn.lora_rank": 2})
  params, info = phases.unlearn_model(exp, original)
  assert 0 < info["trainable_fraction"] < 0.5
  flat_new = traverse_util.flatten_dict(params)
  flat_old = traverse_util.flatten_dict(original)
  changed = {k for k in flat_old
             if not np.array_equal(flat_new[k], flat_old[k])}
  assert changed  # the adapters moved some kernels
  assert all(k[-1] == "kernel" for k in changed)
  for k in changed:  # by a rank-2 update (beyond float32 rounding)
    delta = np.asarray(flat_new[k], np.float64) - flat_old[k]
    sv = np.linalg.svd(delta, compute_uv=False)
    assert np.sum(sv > 1e-3 * sv[0]) <= 2, (k, sv[:4])
  # Resuming a finished run loads the adapters and merges them again.
  again, _ = phases.unlearn_model(make(**{"method.name": name,
                                           "unlearn.lora_rank": 2}), original)
  jax.tree.map(np.testing.assert_array_equal, again, params)


@pytest.mark.slow
def test_lora_adapters_start_at_the_base_and_match_the_merged_term(
    tiny_config):
  from mmul_jax import lora
  model = models.build(tiny_config.model)
  x = np.zeros((2, 32, 32, 3), np.float32)
  t = np.full((2, tiny_config.model.context_length), 5, np.int32)
  base = model.init(jax.random.key(0), x, t)
  adapters = lora.init(base, rank=4, rng=jax.random.key(1))
  jax.tree.map(np.testing.assert_array_equal,
               lora.merge(base, adapters, alpha=8.0), base)
  adapters = jax.tree.map(lambda v: v + 0.01, adapters)
  term = losses.loss_term(lambda p, f, b, rng: (sum(
      jnp.sum(v ** 2) for v in jax.tree.leaves(p)), {}))
  wrapped = lora.lora_term(term, base, alpha=8.0)
  got, _, _ = wrapped.apply(wrapped.init(adapters), adapters,
                            {"base": base}, {}, rng=jax.random.key(0))
  want, _, _ = term.apply((), lora.merge(base, adapters, alpha=8.0), None,
                          {}, rng=jax.random.key(0))
  np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.slow
def test_superloss_curriculum_weights_the_task_loss(setup):
  make, original = setup
  plain, _ = phases.unlearn_model(make(**{"method.name": "neggrad"}),
                                   original)
  params, info = phases.unlearn_model(
      make(**{"method.name": "neggrad", "unlearn.curriculum": "superloss",
              "unlearn.superloss_lambda": 1.0}), original)
  last = info["history"][-1]
  assert "superloss_tau" in last and last["superloss_tau"] > 0
  assert last["superloss_mean_confidence"] != pytest.approx(1.0)
  assert _max_change(params, plain) > 0  # the weighting changed the steps


def _build_toy(ctx):
  """A method written outside the library: ascent on Df, scaled."""
  return methods.Plan(
      loss=losses.weighted_sum(
          {"ascent": losses.negate(losses.on_forget(ctx.task_loss()))},
          weights={"ascent": float(ctx.hparams.scale)}),
      parts=("df",))


TOY = methods.Method(
    _build_toy, defaults={"scale": 0.5},
    ranges={"scale": (0.1, 1.0, "linear")},
    check=lambda h, config: [] if h.scale > 0 else ["scale must be > 0"],
    trains_task_loss=True, full_weight=True, gradient_ascent=True,
    grid=({"method.toy.scale": 0.25}, {"method.toy.scale": 0.75}))


def test_a_method_is_its_file_and_one_registry_line(setup, monkeypatch):
  from mmul_jax import config_schema
  from mmul_jax.unlearn import compare
  monkeypatch.setitem(methods.METHODS, "toy", TOY)  # the registry line
  c = config_schema.default_config()
  assert c.method.toy.scale == 0.5  # defaults come from the record
  c.method.name = "toy"
  config_schema.validate(c)
  c.method.toy.scale = -1.0
  with pytest.raises(errors.ConfigError, match="method 'toy': scale must"):
    config_schema.validate(c)
  c.method.toy.scale = 0.5
  c.unlearn.lora_rank = 2  # full_weight: no adapters
  with pytest.raises(errors.ConfigError, match="cannot train LoRA"):
    config_schema.validate(c)
  c.unlearn.lora_rank = 0
  c.unlearn.curriculum = "superloss"  # trains_task_loss: allowed
  config_schema.validate(c)
  assert compare.grid()["toy"] == [dict(s) for s in TOY.grid]
  assert "toy" in methods.names_where("gradient_ascent")
  make, original = setup
  base = make()  # a config made before the registration lacks the toy's
  c = base.config.copy_and_resolve_references()
  c.method.name, c.method.toy = "toy", dict(TOY.defaults)
  params, info = phases.unlearn_model(experiment.setup(c, base.workdir),
                                      original)
  assert info["history"] and np.isfinite(info["history"][-1]["loss"])
  assert _max_change(params, original) > 0

"""`mmul_plus`'s terms against numpy computations from the models' outputs,
its reduction to the paper's MMUL with the added terms off, and its
configuration (search space, checks)."""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import losses
from mmul_jax import methods
from mmul_jax import models
from mmul_jax import tasks
from mmul_jax.data import datasets
from mmul_jax.methods import mmul
from mmul_jax.methods import mmul_plus
from mmul_jax.tasks import mmul_plus_terms as plus_terms
from mmul_jax.tuning import search_space

B, L = 4, 32
RETRIEVAL = tasks.Retrieval(None)
# The rng the share gets inside `losses.precompute`.
SHARE_KEY = 0x5EED


def _np_kl(target_logits, logits):
  def log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))
  q, p = log_softmax(target_logits), log_softmax(logits)
  return (np.exp(q) * (q - p)).sum(-1)


def _mse(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return ((a - b) ** 2).reshape(len(a), -1).mean(-1)


def _np_sim_mse(img, txt, img0, txt0):
  """MSE(S, S') + MSE(Sᵀ, S'ᵀ) of the in-batch similarities (square)."""
  f64 = lambda x: np.asarray(x, np.float64)
  sim, sim0 = f64(img) @ f64(txt).T, f64(img0) @ f64(txt0).T
  return 2 * np.mean((sim - sim0) ** 2)


def _np_scores(out, out0):
  """Retrieval's score retention on a batch: matching-head KL and the
  cosine similarities."""
  return (np.mean(_np_kl(out0["itm_logits"], out["itm_logits"]))
          + _np_sim_mse(out["image_embed"], out["text_embed"],
                        out0["image_embed"], out0["text_embed"]))


def test_answer_decoupling_is_kl_of_target_to_student():
  rng = np.random.default_rng(0)
  z, z0 = rng.normal(size=(2, 5, 3)).astype(np.float32)
  got = losses.answer_decoupling(jnp.asarray(z), jnp.asarray(z0))
  np.testing.assert_allclose(got, _np_kl(z0, z), rtol=1e-5, atol=1e-7)
  assert np.all(np.asarray(got) >= -1e-7)


def _text(r, n):
  t = r.integers(4, 200, (n, L)).astype(np.int32)
  t[:, 9] = 2  # end of text
  return t


def _retrieval_batch(seed, n=B, id_base=0):
  r = np.random.default_rng(seed)
  return {"image": r.normal(size=(n, 32, 32, 3)).astype(np.float32),
          "text": _text(r, n), "image_id": np.arange(n) + id_base}


@pytest.fixture(scope="module")
def retrieval():
  model = RETRIEVAL.build_model(models.preset("tiny"))
  b = _retrieval_batch(0)
  init = jax.jit(model.init)
  theta0 = init(jax.random.key(0), b["image"], b["text"])
  theta = init(jax.random.key(1), b["image"], b["text"])
  return model, theta, theta0


def _outputs(model, method="__call__"):
  """`model.<method>` in inference mode, jitted (what numpy reads)."""
  return jax.jit(lambda p, images, text: model.apply(
      p, images, text, method=getattr(model, method)))


def _apply(term, params, frozen, batch, rng):
  value, aux, _ = jax.jit(
      lambda p: term.apply(term.init(p), p, frozen, batch, rng=rng))(params)
  return float(value), aux


def _perm(rng, ids):
  """The derangement the share draws from `rng` (its first split)."""
  perm, _ = losses.derangement(jax.random.split(rng)[0], jnp.asarray(ids))
  return np.asarray(perm)


def test_retrieval_terms_match_numpy(retrieval):
  model, theta, theta0 = retrieval
  batch = {"df": _retrieval_batch(1), "dr": _retrieval_batch(2, id_base=10)}
  rng = jax.random.key(3)
  frozen = {"original": theta0}
  df, dr = batch["df"], batch["dr"]
  perm = _perm(rng, df["image_id"])
  assert not np.any(perm == np.arange(B))
  run = _outputs(model)
  student = run(theta, df["image"], df["text"])
  target = run(theta0, df["image"], df["text"][perm])
  made = RETRIEVAL.mmul_plus_terms(model)
  fusion, aux = _apply(made.terms["fusion"], theta, frozen, batch, rng)
  assert float(aux["derangement_valid"]) == 1.0
  assert fusion == pytest.approx(np.mean(_mse(student["fusion_cls"],
                                              target["fusion_cls"])),
                                 rel=1e-4)
  answer, _ = _apply(made.terms["answer"], theta, frozen, batch, rng)
  assert answer == pytest.approx(np.mean(_np_kl(target["itm_logits"],
                                                student["itm_logits"])),
                                 rel=1e-4)
  kept, _ = _apply(made.terms["mkr_scores"], theta, frozen, dr, rng)
  r, r0 = run(theta, dr["image"], dr["text"]), run(theta0, dr["image"],
                                                   dr["text"])
  assert kept == pytest.approx(_np_scores(r, r0), rel=1e-4)
  assert _apply(made.terms["mkr_scores"], theta0, frozen, dr,
                rng)[0] == pytest.approx(0.0, abs=1e-7)


def test_whole_retrieval_loss_is_the_weighted_sum_with_one_draw(retrieval):
  """Every decoupling term reads the share's one draw of partners (the
  precompute key), and the cosine term uses the same unrelated captions."""
  model, theta, theta0 = retrieval
  batch = {"df": _retrieval_batch(4), "dr": _retrieval_batch(5, id_base=10)}
  rng = jax.random.key(6)
  w = dict(md_weight=0.5, ukr_weight=2.0, mkr_weight=3.0, fusion_weight=4.0,
           answer_weight=5.0)
  term = mmul_plus.loss(RETRIEVAL, model, retain="scores", **w)
  got, aux = _apply(term, theta, {"original": theta0}, batch, rng)
  df, dr = batch["df"], batch["dr"]
  perm = _perm(jax.random.fold_in(rng, SHARE_KEY), df["image_id"])
  run = _outputs(model)
  s = run(theta, df["image"], df["text"])
  s0 = run(theta0, df["image"], df["text"])
  t = run(theta0, df["image"], df["text"][perm])
  md = _np_sim_mse(s["image_embed"], s["text_embed"], s0["image_embed"],
                   t["text_embed"])
  ukr = np.mean(_mse(s["image_embed"], s0["image_embed"])
                + _mse(s["text_embed"], s0["text_embed"]))
  fusion = np.mean(_mse(s["fusion_cls"], t["fusion_cls"]))
  answer = np.mean(_np_kl(t["itm_logits"], s["itm_logits"]))
  scores = _np_scores(run(theta, dr["image"], dr["text"]),
                      run(theta0, dr["image"], dr["text"]))
  assert float(aux["md"]) == pytest.approx(md, rel=1e-4)
  assert float(aux["ukr"]) == pytest.approx(ukr, rel=1e-4)
  want = 0.5 * md + 2.0 * ukr + 3.0 * scores + 4.0 * fusion + 5.0 * answer
  assert got == pytest.approx(want, rel=1e-4)


@pytest.mark.slow
def test_with_its_added_terms_off_it_is_the_papers_mmul(retrieval):
  # Two units: the derangement is the swap whichever key draws it.
  model, theta, theta0 = retrieval
  batch = {"df": _retrieval_batch(7, n=2), "dr": _retrieval_batch(
      8, n=2, id_base=10)}
  rng = jax.random.key(9)
  frozen = {"original": theta0}
  paper, _ = _apply(mmul.loss(RETRIEVAL, model, md_weight=0.7,
                              ukr_weight=1.3, mkr_weight=2.1),
                    theta, frozen, batch, rng)
  plus, _ = _apply(mmul_plus.loss(RETRIEVAL, model, md_weight=0.7,
                                  ukr_weight=1.3, mkr_weight=2.1,
                                  fusion_weight=0.0, answer_weight=0.0),
                   theta, frozen, batch, rng)
  assert plus == pytest.approx(paper, rel=1e-5)


def _classification_task(num_classes=2, num_images=2):
  spec = datasets.DatasetSpec(
      task="classification", labels=tuple(map(str, range(num_classes))),
      image_keys=tuple(f"image{i}" for i in range(num_images)))
  return tasks.for_dataset(spec)


def test_classification_terms_match_numpy():
  task = _classification_task()
  model = task.build_model(models.preset("tiny"))
  r = np.random.default_rng(10)

  def part(id_base):
    return {"image": r.normal(size=(B, 2, 32, 32, 3)).astype(np.float32),
            "text": _text(r, B), "label": r.integers(0, 2, B),
            "image_id": np.arange(B) + id_base}

  df, dr = part(0), part(10)
  init = lambda k: jax.jit(functools.partial(
      model.init, method=model.classify))(jax.random.key(k), df["image"],
                                          df["text"])
  theta0, theta = init(0), init(1)
  rng = jax.random.key(11)
  w = dict(md_weight=1.5, ukr_weight=0.0, mkr_weight=2.0, answer_weight=3.0)
  term = mmul_plus.loss(task, model, retain="scores", **w)
  got, _ = _apply(term, theta, {"original": theta0}, {"df": df, "dr": dr},
                  rng)
  perm = _perm(jax.random.fold_in(rng, SHARE_KEY), df["image_id"])
  run = _outputs(model, "classify")
  cls = lambda p, x, text: run(p, x["image"], text)
  s, t = cls(theta, df, df["text"]), cls(theta0, df, df["text"][perm])
  md = np.mean(_mse(s["fusion_cls"], t["fusion_cls"]))
  answer = np.mean(_np_kl(t["class_logits"], s["class_logits"]))
  head = np.mean(_np_kl(cls(theta0, dr, dr["text"])["class_logits"],
                        cls(theta, dr, dr["text"])["class_logits"]))
  assert got == pytest.approx(1.5 * md + 2.0 * head + 3.0 * answer,
                              rel=1e-4)
  assert "fusion" not in task.mmul_plus_terms(model).terms


def _hparams(**kw):
  h = config_schema.default_config().method.mmul_plus
  h = h.copy_and_resolve_references()
  h.update(kw)
  return h


def test_classification_has_no_fusion_weight_to_set_or_search():
  task = _classification_task()
  assert methods.get("mmul_plus").unused(task) == {"fusion_weight"}
  assert methods.get("mmul_plus").unused(RETRIEVAL) == frozenset()
  sp = search_space.space("mmul_plus", task=task)
  assert "method.mmul_plus.fusion_weight" not in sp
  assert "method.mmul_plus.answer_weight" in sp
  assert sp["method.mmul_plus.retain"].choices == mmul_plus.RETAIN
  assert "method.mmul_plus.fusion_weight" in search_space.space(
      "mmul_plus", task=RETRIEVAL)
  assert mmul_plus.check_task(_hparams(), task) == []
  problems = mmul_plus.check_task(_hparams(fusion_weight=1.0), task)
  assert problems and "fusion_weight=0" in problems[0]
  assert mmul_plus.check_task(_hparams(fusion_weight=1.0), RETRIEVAL) == []


def test_checks_refuse_bad_settings():
  config = config_schema.default_config()
  assert mmul_plus.check(_hparams(), config) == []
  assert "retain" in mmul_plus.check(_hparams(retain="cls"), config)[0]
  zero = {w: 0.0 for w in mmul_plus.WEIGHTS}
  assert "all loss weights are 0" in mmul_plus.check(_hparams(**zero),
                                                     config)[0]
  assert mmul_plus.check_deletion(_hparams(), config, 1)
  assert not mmul_plus.check_deletion(_hparams(negative_source="dr"),
                                      config, 1)
  ctx = ml_collections.ConfigDict(_hparams(answer_weight=0.0))
  assert mmul_plus.parts_read(ctx) == ("df", "dr")
  ctx.mkr_weight = 0.0
  assert mmul_plus.parts_read(ctx) == ("df",)


def test_calibrated_targets_map_each_units_rank_to_the_held_out_quantile():
  rng = np.random.default_rng(0)
  ids = np.asarray([30, 10, 20, 40])  # Df in draw order
  owner = np.repeat(np.arange(4), 2)  # two captions per unit
  cos = rng.uniform(0.2, 0.9, 8)
  prob = rng.uniform(0.05, 0.95, 8)
  held = {"cosine": rng.uniform(0.0, 0.5, 50),
          "match": rng.uniform(0.01, 0.6, 50)}
  got = plus_terms.calibrated_targets(
      {"cosine": cos, "match": prob, "caption_owner": owner}, ids, held)
  np.testing.assert_array_equal(got["ids"], [10, 20, 30, 40])
  logit = lambda p: np.log(p / (1 - p))
  for name, values, held_values in (
      ("cosine", cos, held["cosine"]),
      ("logit", logit(prob), logit(held["match"]))):
    unit = values.reshape(4, 2).mean(1)  # per unit, in draw order
    want = {}
    for rank, u in enumerate(np.argsort(unit)):
      want[int(ids[u])] = np.quantile(held_values, (rank + 0.5) / 4)
    np.testing.assert_allclose(got[name], [want[i] for i in (10, 20, 30, 40)],
                               rtol=1e-5)
  # The order of Df is kept: the unit the original scores highest gets
  # the highest held-out quantile.
  top = ids[np.argmax(cos.reshape(4, 2).mean(1))]
  assert got["cosine"][list(got["ids"]).index(top)] == got["cosine"].max()


def test_calibrated_terms_pull_to_each_units_target(retrieval):
  model, theta, theta0 = retrieval
  batch = {"df": _retrieval_batch(1, id_base=100),
           "dr": _retrieval_batch(2, id_base=10)}
  table = {"ids": np.asarray([100, 101, 102, 103], np.int32),
           "cosine": np.asarray([0.1, 0.2, 0.3, 0.4], np.float32),
           "logit": np.asarray([-1.0, 0.0, 1.0, 2.0], np.float32)}
  frozen = {"original": theta0, plus_terms.CALIBRATION: table}
  rng = jax.random.key(3)
  s = _outputs(model)(theta, batch["df"]["image"], batch["df"]["text"])
  made = RETRIEVAL.mmul_plus_terms(model)
  cos = np.sum(np.asarray(s["image_embed"], np.float64)
               * np.asarray(s["text_embed"], np.float64), -1)
  got, _ = _apply(made.terms["md_cal"], theta, frozen, batch, rng)
  assert got == pytest.approx(np.mean((cos - table["cosine"]) ** 2),
                              rel=1e-4)
  p = 1 / (1 + np.exp(-table["logit"].astype(np.float64)))
  target = np.log(np.stack([1 - p, p], -1))
  got, _ = _apply(made.terms["answer_cal"], theta, frozen, batch, rng)
  assert got == pytest.approx(np.mean(_np_kl(target, s["itm_logits"])),
                              rel=1e-4)
  # The whole loss with the held-out target reads these two terms.
  term = mmul_plus.loss(RETRIEVAL, model, md_weight=2.0, ukr_weight=0.0,
                        mkr_weight=0.0, answer_weight=3.0,
                        target="held_out")
  whole, aux = _apply(term, theta, frozen, batch, rng)
  assert whole == pytest.approx(2.0 * float(aux["md_cal"])
                                + 3.0 * float(aux["answer_cal"]), rel=1e-5)
  with pytest.raises(ValueError, match="fusion_weight must be 0"):
    mmul_plus.loss(RETRIEVAL, model, fusion_weight=1.0, target="held_out")


def test_the_held_out_target_is_refused_where_it_cannot_apply():
  config = config_schema.default_config()
  assert "target" in mmul_plus.check(_hparams(target="nearest"), config)[0]
  assert "fusion_weight=0" in mmul_plus.check(
      _hparams(target="held_out", fusion_weight=1.0), config)[0]
  problems = mmul_plus.check_task(_hparams(target="held_out"),
                                  _classification_task())
  assert problems and "target='unrelated'" in problems[0]
  assert mmul_plus.check_task(_hparams(target="held_out"), RETRIEVAL) == []


def test_the_held_out_target_takes_the_fusion_weight_out_of_the_search():
  hold = _hparams(target="held_out", fusion_weight=0.0)
  assert "method.mmul_plus.fusion_weight" in search_space.space(
      "mmul_plus", task=RETRIEVAL, hparams=_hparams())
  sp = search_space.space("mmul_plus", task=RETRIEVAL, hparams=hold)
  assert "method.mmul_plus.fusion_weight" not in sp
  assert "method.mmul_plus.answer_weight" in sp

"""Run as a script with 8 fake CPU devices (see sharded_test.py): the
contrastive, MMUL, mmul_plus and distillation losses under shard_map / pmap
/ vmap with an axis name against one device with the whole batch. Prints a
JSON dict of values."""

import functools
import json
import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8")

import jax  # noqa: E402  (after XLA_FLAGS)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "configs"))
import tiny  # noqa: E402

from mmul_jax import losses  # noqa: E402
from mmul_jax import models  # noqa: E402
from mmul_jax import tasks  # noqa: E402
from mmul_jax.data import datasets  # noqa: E402
from mmul_jax.methods import mmul  # noqa: E402
from mmul_jax.methods import mmul_plus  # noqa: E402
from mmul_jax.methods import terms  # noqa: E402

N, AX = 8, "data"


def unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


# What each part of the check computes, by name (the command line's
# arguments; none: every part).
PARTS = ("contrastive", "md", "mmul_df", "mmul_dr", "mmul_plus",
         "mmul_plus_cls", "distillation")


def main(parts):
  assert jax.device_count() == N, jax.devices()
  mesh = jax.make_mesh((N,), (AX,))
  rng = np.random.default_rng(0)
  out = {}

  # Contrastive: 16 pairs, 2 per device, two captions per image id.
  b = 16
  img, txt = (jnp.asarray(unit(rng.normal(size=(b, 8))), jnp.float32)
              for _ in range(2))
  ids = jnp.asarray(np.repeat(np.arange(b // 2), 2))
  scale = jnp.float32(np.log(10.0))

  def contrastive(i, t, d, axis_name=None):
    return jnp.mean(losses.clip_contrastive(i, t, logit_scale=scale, ids=d,
                                            axis_name=axis_name))

  def place(x, spec):
    return jax.device_put(x, jax.sharding.NamedSharding(mesh, spec))

  def sharded_mean(fn, *args):
    f = jax.shard_map(lambda *a: jax.lax.pmean(fn(*a, axis_name=AX), AX),
                      mesh=mesh, in_specs=(P(AX),) * len(args),
                      out_specs=P())
    return float(jax.jit(f)(*(place(a, P(AX)) for a in args)))

  def per_device(x):
    return x.reshape((N, -1) + x.shape[1:])

  if "contrastive" in parts:
    out["contrastive_single"] = float(contrastive(img, txt, ids))
    out["contrastive_shard_map"] = sharded_mean(contrastive, img, txt, ids)
    out["contrastive_pmap"] = float(jnp.mean(jax.pmap(
        lambda *a: contrastive(*a, axis_name=AX), axis_name=AX)(
            *map(per_device, (img, txt, ids)))))
    out["contrastive_vmap"] = float(jnp.mean(jax.vmap(
        lambda *a: contrastive(*a, axis_name=AX), axis_name=AX)(
            *map(per_device, (img, txt, ids)))))

  # Modality decoupling on embeddings.
  v0, t0 = (jnp.asarray(unit(rng.normal(size=(b, 8))), jnp.float32)
            for _ in range(2))

  def md(i, t, a, c, axis_name=None):
    return jnp.mean(losses.modality_decoupling(i, t, a, c,
                                               axis_name=axis_name))

  if "md" in parts:
    out["md_single"] = float(md(img, txt, v0, t0))
    out["md_shard_map"] = sharded_mean(md, img, txt, v0, t0)
    out["md_pmap"] = float(jnp.mean(jax.pmap(
        lambda *a: md(*a, axis_name=AX), axis_name=AX)(
            *map(per_device, (img, txt, v0, t0)))))

  # The whole MMUL loss term of the tiny model, negatives from Df and Dr.
  c = tiny.get_config()
  model = models.build(c.model)
  images = np.zeros((1, c.model.image_size, c.model.image_size, 3),
                    np.float32)
  text = np.zeros((1, c.model.context_length), np.int32)
  theta0 = {"original": model.init(jax.random.key(0), images, text)}
  theta = model.init(jax.random.key(1), images, text)
  task = tasks.Retrieval(None)

  def part(n, seed):
    r = np.random.default_rng(seed)
    tokens = r.integers(4, c.model.vocab_size, (n, c.model.context_length))
    tokens[:, -1] = c.model.eot_id
    return {"image": jnp.asarray(r.normal(size=(n, c.model.image_size,
                                                c.model.image_size, 3)),
                                 jnp.float32),
            "text": jnp.asarray(tokens, jnp.int32),
            "image_id": jnp.asarray(np.repeat(np.arange(n // 2), 2)
                                    + 100 * seed)}

  batch = {"df": part(16, 1), "dr": part(16, 2)}
  key = jax.random.key(3)
  for source in ("df", "dr"):
    if f"mmul_{source}" not in parts:
      continue

    def value(params, frozen, batch, axis_name=None, source=source):
      term = mmul.loss(task, model, negative_source=source, axis_name=axis_name)
      loss, _, _ = term.apply(term.init(params), params, frozen, batch,
                              rng=key)
      return loss

    out[f"mmul_{source}_single"] = float(jax.jit(value)(theta, theta0,
                                                        batch))
    f = jax.shard_map(
        lambda p, f, x: jax.lax.pmean(value(p, f, x, axis_name=AX), AX),
        mesh=mesh, in_specs=(P(), P(), P(AX)), out_specs=P())
    out[f"mmul_{source}_shard_map"] = float(jax.jit(f)(
        place(theta, P()), place(theta0, P()), place(batch, P(AX))))
  # mmul_plus with every term on (score retention), partners from Df and Dr.
  plus_weights = dict(md_weight=0.5, ukr_weight=2.0, mkr_weight=3.0,
                      fusion_weight=4.0, answer_weight=5.0, retain="scores")
  for source in ("df", "dr") if "mmul_plus" in parts else ():
    def value(params, frozen, batch, axis_name=None, source=source):
      term = mmul_plus.loss(task, model, negative_source=source,
                            axis_name=axis_name, **plus_weights)
      loss, _, _ = term.apply(term.init(params), params, frozen, batch,
                              rng=key)
      return loss

    out[f"mmul_plus_{source}_single"] = float(jax.jit(value)(theta, theta0,
                                                             batch))
    f = jax.shard_map(
        lambda p, f, x: jax.lax.pmean(value(p, f, x, axis_name=AX), AX),
        mesh=mesh, in_specs=(P(), P(), P(AX)), out_specs=P())
    out[f"mmul_plus_{source}_shard_map"] = float(jax.jit(f)(
        place(theta, P()), place(theta0, P()), place(batch, P(AX))))
  if "mmul_plus_cls" in parts:
    classification_part(out, c, part, key, mesh, place)
  if "distillation" in parts:
    distillation_part(out, task, model, theta, theta0, batch["df"], key,
                      mesh, place)
  print(json.dumps(out))


def classification_part(out, c, part, key, mesh, place):
  """mmul_plus on an NLVR2-shaped classification model (two images)."""
  spec = datasets.DatasetSpec(task="classification", labels=("0", "1"),
                              image_keys=("image0", "image1"))
  ctask = tasks.for_dataset(spec)
  cmodel = ctask.build_model(c.model)

  def cpart(n, seed):
    p = part(n, seed)
    r = np.random.default_rng(seed + 10)
    return {**p, "image": jnp.stack([p["image"], p["image"][::-1]], 1),
            "label": jnp.asarray(r.integers(0, 2, n))}

  cbatch = {"df": cpart(16, 1), "dr": cpart(16, 2)}
  cinit = jax.jit(functools.partial(cmodel.init, method=cmodel.classify))
  c0 = {"original": cinit(jax.random.key(0), cbatch["df"]["image"][:1],
                          cbatch["df"]["text"][:1])}
  c1 = cinit(jax.random.key(1), cbatch["df"]["image"][:1],
             cbatch["df"]["text"][:1])
  cweights = dict(md_weight=0.5, ukr_weight=2.0, mkr_weight=3.0,
                  fusion_weight=0.0, answer_weight=5.0, retain="scores")

  def cvalue(params, frozen, batch, axis_name=None):
    term = mmul_plus.loss(ctask, cmodel, axis_name=axis_name, **cweights)
    loss, _, _ = term.apply(term.init(params), params, frozen, batch,
                            rng=key)
    return loss

  out["mmul_plus_cls_single"] = float(jax.jit(cvalue)(c1, c0, cbatch))
  f = jax.shard_map(
      lambda p, f, x: jax.lax.pmean(cvalue(p, f, x, axis_name=AX), AX),
      mesh=mesh, in_specs=(P(), P(), P(AX)), out_specs=P())
  out["mmul_plus_cls_shard_map"] = float(jax.jit(f)(
      place(c1, P()), place(c0, P()), place(cbatch, P(AX))))


def distillation_part(out, task, model, theta, theta0, flat, key, mesh,
                      place):
  """The distillation terms (Bad Teaching, SCRUB, DELETE), flat batch."""
  for kind in ("distillation", "decoupled_distillation"):
    def value(params, frozen, batch, axis_name=None, kind=kind):
      term = getattr(terms, kind)(task, model, temperature=2.0,
                                  axis_name=axis_name)
      loss, _, _ = term.apply(term.init(params), params, frozen, batch,
                              rng=key)
      return loss

    out[f"{kind}_single"] = float(jax.jit(value)(theta, theta0, flat))
    f = jax.shard_map(
        lambda p, f, x: jax.lax.pmean(value(p, f, x, axis_name=AX), AX),
        mesh=mesh, in_specs=(P(), P(), P(AX)), out_specs=P())
    out[f"{kind}_shard_map"] = float(jax.jit(f)(
        place(theta, P()), place(theta0, P()), place(flat, P(AX))))


if __name__ == "__main__":
  unknown = set(sys.argv[1:]) - set(PARTS)
  assert not unknown, f"unknown parts {sorted(unknown)}; choose from {PARTS}"
  main(set(sys.argv[1:]) or set(PARTS))

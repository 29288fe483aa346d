"""`run(config, workdir)`: K originals and K retrained models trained at
once under `jax.vmap`, each original unlearned by every method of
`config.shadow.methods` (vmapped too), every model scored per example, and
the leakage audit against the K retrained models (`evaluation.leakage`).

Writes, under the seed list's directory (`phases.shadow_root`):
`scores.npz` (every model's per-example scores, `evaluation.score_files`),
`shadow_results.json` (the audit) and `leakage.md` (its table). Every
phase resumes like a single run's; a finished model's scores are cached
beside its checkpoint.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import time

from mmul_jax import config_schema
from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax import workdir_lock
from mmul_jax.evaluation import leakage
from mmul_jax.evaluation import score_files
from mmul_jax.training import vmapped
from mmul_jax.data.core import deletion_policy
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import shadow_sets
from mmul_jax.unlearn import worst_case

SCORES_FILE = "scores.npz"
RESULTS_FILE = "shadow_results.json"
TABLE_FILE = "leakage.md"
# Shadow deletion sets: which pool units each model forgot (`(K, U)`).
MASKS_FILE = "lane_masks.npz"
# Bump when what a model's cached scores hold changes.
SCORES_VERSION = 1
# U-LiRA fits each deleted example's scores over the other K - 1 models of
# each side, so a side needs at least this many models.
MIN_MODELS = 3


def seeds_of(config) -> tuple[int, ...]:
  """The K model seeds: `seed, seed + 1, ...`; the first is the single
  run's, so shadow model 0 is the model `scripts/unlearn.py` trains."""
  return tuple(config.seed + k for k in range(config.shadow.num_models))


def method_configs(config, settings: dict | None = None) -> dict:
  """`{method: config}` for `shadow.methods`, each with its `settings`
  (`{method: {dotted key: value}}`, e.g. a comparison's selected ones)
  applied, each validated whole (with its task), before any compute."""
  names = list(config.shadow.methods)
  if not names or len(set(names)) != len(names):
    raise errors.ConfigError(
        f"shadow.methods must name distinct methods, got {names!r}")
  out = {}
  for name in names:
    methods.get(name)  # an unknown name: one line naming the known ones
    c = config.copy_and_resolve_references()
    c.method.name = name
    c.update_from_flattened_dict(dict((settings or {}).get(name, {})))
    config_schema.validate(c)
    out[name] = c
  return out


def check_config(config, num_models: int,
                 key: str = "shadow.num_models") -> None:
  """What the audit cannot run with, refused before any compute:
  fewer than `MIN_MODELS` models per side (`key` names the option that
  sets them), a given original (`model.original`), and evaluation during
  unlearning, which watches one model
  at a time (the K models unlearn under vmap and are kept as their last
  step leaves them)."""
  if num_models < MIN_MODELS:
    raise errors.ConfigError(
        f"{key} must be at least {MIN_MODELS} (U-LiRA fits each deleted "
        f"example's scores over the other K - 1 models of each side), got "
        f"{num_models}")
  if config.model.original:
    raise errors.ConfigError(
        "the shadow audit trains K originals on D, one per seed; "
        f"model.original = {config.model.original} fixes one original: "
        "leave model.original empty for the audit")
  u = config.unlearn
  if u.eval_every or u.early_stopping != "none":
    raise errors.ConfigError(
        "the shadow models unlearn under vmap and are scored by their "
        f"final step; unlearn.eval_every = {u.eval_every} and "
        f"unlearn.early_stopping = {u.early_stopping!r} evaluate one model "
        "at a time: set unlearn.eval_every = 0 and unlearn.early_stopping "
        "= \"none\" for the audit")


def score_models(exp, params, seeds, desc: str) -> dict:
  """`{set: {name: (K, ...)}}`: the task's per-example scores of each of
  the K stacked models."""
  scorer = exp.task.example_scorer(exp.model, exp.config)
  per_model = []
  for k in range(len(seeds)):
    one = distributed.local_copy(vmapped.unstack(params, k))
    print(f"{desc}: scoring model {k + 1}/{len(seeds)}", flush=True)
    per_model.append(scorer(one, exp.eval_sets))
  return vmapped.stack(per_model)



def run(config, workdir: str, settings: dict | None = None) -> dict:
  """The whole shadow evaluation (each method at its `settings`, see
  `method_configs`); returns the audit record. The workdir is locked
  against other runs until it returns."""
  with workdir_lock.scope():
    return _run(config, workdir, settings)


def _run(config, workdir: str, settings: dict | None) -> dict:
  t0 = time.perf_counter()
  configs = method_configs(config, settings)
  for c in configs.values():  # a method's settings may turn evaluation on
    check_config(c, config.shadow.num_models)
  # The models trained do not depend on the method: set up with the first.
  exp = worst_case.setup(next(iter(configs.values())), workdir)
  seeds = seeds_of(config)
  try:
    vmapped.check_num_models(len(seeds), exp.mesh)
  except ValueError as e:
    raise errors.ConfigError(f"shadow.num_models: {e}") from None
  lane_sets = None
  if config.shadow.deletion_sets == "per_model":
    exp = shadow_sets.pool_experiment(exp)
    lane_sets = shadow_sets.lanes(exp.deletion, seeds)
  for c in configs.values():
    methods.check_deletion(c, exp.deletion)
    for d in lane_sets or ():  # every model's own set, before compute
      deletion_policy.check_fits(c, d)
      methods.check_deletion(c, d)
  # The per-example scores do not depend on which metric families run,
  # nor on the text-to-image judges.
  settings = {k: v for k, v in config.eval.to_dict().items()
              if k != "extra_metrics" and k not in phases.JUDGE_KEYS}
  tag = f"scores_v{SCORES_VERSION}_{phases.digest(settings)}"
  if lane_sets:  # the originals' scores on the pool, beside the shared
    tag += f"_{exp.deletion.tag}"
  scores, times = {}, {}
  originals = None
  for kind, name in (("original", "original"), ("retrain", "retrained")):
    params, info = phases.train_model(exp, kind, seeds, lane_sets)
    if kind == "original":
      originals = params
    times[name] = info["wall_seconds"]
    scores[name], _ = score_files.cached(
        os.path.join(phases.model_dir(exp, kind, seeds), f"{tag}.npz"),
        lambda p=params, n=name: (score_models(exp, p, seeds, n), None),
        task=exp.task.name)
  for name, c in configs.items():
    exp_m = dataclasses.replace(exp, config=c)
    params, info = phases.unlearn_model(exp_m, originals, seeds,
                                        lanes=lane_sets)
    times[name] = info["wall_seconds"]
    scores[name], _ = score_files.cached(
        os.path.join(phases.unlearn_dir(exp_m, seeds), f"{tag}.npz"),
        lambda p=params, n=name: (score_models(exp, p, seeds, n), None),
        task=exp.task.name)
  reps = exp.task.representations
  e = config.eval
  masks = (shadow_sets.mask(exp.deletion, lane_sets,
                            exp.eval_sets["df"].image_ids)
           if lane_sets else None)
  audited = leakage.audit(reps, scores, auc_num_samples=e.auc_num_samples,
                          auc_seed=e.auc_seed,
                          ulira_ddof=config.shadow.ulira_ddof, masks=masks)
  record = {"task": exp.task.name, "dataset": exp.dataset_name,
            "seeds": list(seeds), "methods": list(configs),
            "deletion_sets": config.shadow.deletion_sets,
            "deletion": {"tag": exp.deletion.tag,
                         "sha256": exp.deletion.sha256,
                         "num_forget_units": len(exp.deletion.forget_ids),
                         **({"lanes": [d.sha256 for d in lane_sets]}
                            if lane_sets else {})},
            "settings": {m: dict((settings or {}).get(m, {}))
                         for m in configs},
            "leak_auc": leakage.LEAK_AUC,
            "ulira_ddof": config.shadow.ulira_ddof,
            "ranking": leakage.ranking(audited),
            "leaks": {m: leakage.leaks(audited, m) for m in audited
                      if m != leakage.REFERENCE},
            "audit": audited, "wall_seconds": times,
            "total_seconds": time.perf_counter() - t0}
  root = phases.shadow_root(exp, seeds)
  if lane_sets:  # beside the shared-Df audit of the same models
    root = os.path.join(root, "per_model")
    os.makedirs(root, exist_ok=True)
  table = tables(reps, audited)
  if distributed.is_main():
    score_files.save(os.path.join(root, SCORES_FILE), scores,
                     task=exp.task.name)
    if masks is not None:
      io_utils.atomic_write(os.path.join(root, MASKS_FILE),
                            lambda f: np.savez(f, mask=masks), binary=True)
    io_utils.atomic_write_json(os.path.join(root, RESULTS_FILE), record)
    io_utils.atomic_write_text(os.path.join(root, TABLE_FILE), table + "\n")
    print(table)
    print(f"wrote {os.path.join(root, RESULTS_FILE)}")
  return record


def rescore(path: str, *, auc_num_samples: int = 5,
            auc_seed: int = 0, ulira_ddof: int = 1) -> tuple[dict, str]:
  """The audit and its table, recomputed from a saved `scores.npz` (a
  file the audit cannot read is one error naming it and the array)."""
  scores, task = score_files.load(path)
  reps = score_files.check_for_audit(
      path, scores, task,
      {name: t.representations for name, t in tasks.TASKS.items()},
      models=(leakage.ORIGINAL, leakage.REFERENCE), sets=leakage.SETS,
      min_models=3,  # U-LiRA fits each side to the other K - 1 models
      auc_num_samples=auc_num_samples, option="--auc_num_samples")
  masks_path = os.path.join(os.path.dirname(path), MASKS_FILE)
  masks = (np.load(masks_path)["mask"] if os.path.exists(masks_path)
           else None)
  audited = leakage.audit(reps, scores, auc_num_samples=auc_num_samples,
                          auc_seed=auc_seed, ulira_ddof=ulira_ddof,
                          masks=masks)
  return audited, tables(reps, audited)


def tables(representations, audited: dict) -> str:
  """The leakage table per representation, then the models ranked by
  closeness to retraining (U-LiRA AUC of their worst representation)."""
  titles = {r.name: r.title for r in representations}
  return "\n".join([
      "## Leakage per representation", "",
      leakage.markdown(representations, audited), "",
      "## Closest to retrained (U-LiRA AUC of the worst representation)",
      "", leakage.leaderboard_markdown(audited, titles)])

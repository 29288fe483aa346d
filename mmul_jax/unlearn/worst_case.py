"""Worst-case deletion sets (issue 46; Fan et al. 2024, "Challenging
forgets"): a uniformly random Df is the easiest case. With
`deletion.strategy = "memorised"`, Df is the ratio's (or count's) number
of training units the original model scores most like training members:
the units' mean membership score (the task's first scalar per-example
representation: retrieval's pair cosine, a classifier's p(true label), a
language model's answer probability, a diffusion model's negated
denoising loss), standardised against the same score on the held-out test
split: the units the original recognises most, memorised or merely
typical (on the retrieval demo mostly typical: the retrained model still
recognises them; docs/robustness.md). The original does not depend on
Df, so it is trained (or loaded) first, and the run then forgets the
chosen set.

`setup(config, workdir)` is `experiment.setup` for every strategy; with
`memorised` it trains the original and ranks the units first (the
ranking cached beside the original, `memorised.json` beside the
manifest says which units and their scores)."""

from __future__ import annotations

import os

import numpy as np

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax.data.core import deletion
from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import phases

STRATEGY = "memorised"
RANKING_VERSION = 1


def setup(config, workdir: str, **kw) -> experiment_lib.Experiment:
  """The run's experiment (`experiment.setup`), its memorised Df chosen
  with the original model first where the config asks for one."""
  if config.deletion.strategy != STRATEGY:
    return experiment_lib.setup(config, workdir, **kw)
  first = config.copy_and_resolve_references()
  first.deletion.strategy = "uniform"  # any Df: the original ignores it
  exp = experiment_lib.setup(first, workdir)
  rows, z = memorised_rows(exp)
  out = experiment_lib.setup(config, workdir, memorised_rows=rows, **kw)
  if distributed.is_main():
    io_utils.atomic_write_json(
        os.path.join(workdir, "deletion", f"{out.deletion.tag}_memorised"
                     ".json"),
        {"representation": membership_representation(exp.task).name,
         "units": [int(i) for i in exp.train.image_ids[rows]],
         "z": [float(v) for v in z[rows]],
         "z_quantiles_all_units": np.quantile(
             z, [0.0, 0.25, 0.5, 0.75, 1.0]).tolist()})
  return out


def membership_representation(task):
  """The task's first scalar per-example representation."""
  for r in task.representations:
    if r.kind in ("score", "probability", "loss"):
      return r
  raise errors.ConfigError(
      f"deletion.strategy = \"{STRATEGY}\" ranks units by a per-example "
      f"membership score; the {task.name} task has none")


def memorised_rows(exp) -> tuple[np.ndarray, np.ndarray]:
  """`(rows, z)`: the train rows of the most member-like units (as many
  as `config.deletion` deletes) and every unit's standardised score."""
  c = exp.config
  n = len(exp.train)
  count = (c.deletion.count if c.deletion.count
           else deletion.unit_count(float(c.deletion.ratio), n))
  if not 0 < count < n:
    raise errors.ConfigError(
        f"deletion.ratio {c.deletion.ratio} deletes {count} of the {n} "
        "training units; choose a ratio that deletes some but not all")
  z = unit_scores(exp)
  # Highest first; ties by row so the choice is deterministic.
  order = np.lexsort((np.arange(n), -z))
  return np.sort(order[:count]), z


def unit_scores(exp) -> np.ndarray:
  """Every training unit's standardised membership score under the
  original model, in train-row order (cached beside the original)."""
  rep = membership_representation(exp.task)
  original, _ = phases.train_model(exp, "original")
  key = phases.digest({"representation": rep.name,
                       "units": deletion.ids_hash(exp.train.image_ids),
                       "version": RANKING_VERSION})
  path = os.path.join(phases.model_dir(exp, "original"),
                      f"memorised_{key}.npz")

  def compute():
    kw = dict(tok=exp.tokenizer, shape=exp.input_shape(), layout=exp.spec)
    sets = {"train": pipeline.load_pairs(exp.train, exp.train.image_ids,
                                         desc="load every train unit", **kw),
            "test": pipeline.load_pairs(exp.test, exp.test.image_ids,
                                        desc="load test", **kw)}
    scorer = exp.task.example_scorer(exp.model, exp.config)
    scores = scorer(distributed.local_copy(original), sets)
    return {name: {"unit": _per_unit(scores[name], sets[name], rep)}
            for name in sets}, None

  scores, _ = score_files.cached(path, compute, task=exp.task.name)
  train, test = scores["train"]["unit"], scores["test"]["unit"]
  spread = float(np.std(test)) or 1.0
  return (train - float(np.mean(test))) / spread


def _per_unit(scores: dict, pairs, rep) -> np.ndarray:
  """The mean of the representation over each unit's examples, as a
  member-likeness (higher: more like a member): probabilities as logits,
  losses negated."""
  x = np.asarray(scores[rep.name], np.float64)
  if rep.kind == "probability":
    p = np.clip(x, 1e-7, 1 - 1e-7)
    x = np.log(p) - np.log1p(-p)
  elif rep.kind == "loss":
    x = -x
  num_units = len(pairs.image_ids)
  owner = getattr(pairs, "caption_owner", None)
  if owner is None or len(owner) != len(x):
    if len(x) != num_units:
      raise ValueError(f"{len(x)} scores for {num_units} units")
    return x
  return example_scores.unit_means(x, owner, num_units)

"""Does the forgetting last (issue 46)? The run's original, retrained and
unlearned models (trained, or loaded when finished) are evaluated as they
are and after each attack of `config.robustness`, with the task's own
evaluation:

  quantisation  each simulated weight quantisation scheme
                (`robustness.quantize`: bf16, round to nearest, NF4; not
                GPTQ / AWQ; Zhang et al. 2024: 4-bit quantisation
                restores much of what LLM unlearning removed);
  relearning    fine-tuning on a few units for each step count
                (`robustness.relearn`: Df units, or unrelated or
                same-class Dr units), K attack seeds vmapped, each
                evaluated without its own units (and the unattacked
                model on the same sets), metrics their mean.

For every headline metric, each model's change under an attack is scored
against the retrained model's change (`robustness.recovery`: 1 = moved
as the retrained model moved, 0 = moved where it did not). Writes
robustness.json beside results.json (the workdir and the method's run
directory). The fixed models' results are cached (quantised evaluations
beside their checkpoints, relearning per attack setting), so comparing
methods attacks the original and the retrained model once."""

from __future__ import annotations

import math
import os

import numpy as np

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax import optim
from mmul_jax import workdir_lock
from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import report
from mmul_jax.robustness import quantize
from mmul_jax.robustness import recovery
from mmul_jax.robustness import relearn
from mmul_jax.training import vmapped
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import run as run_lib
from mmul_jax.unlearn import train_phase
from mmul_jax.unlearn import worst_case

ROBUSTNESS_FILE = "robustness.json"
PLOT_FILE = "robustness.png"
NONE = "none"  # the models as they are
RELEARN_FOLD = 46  # the attack's keys differ from every training key
RELEARN_VERSION = 2  # bump when what a cached relearning record holds changes
# The attack's default learning rate, as a fraction of the run's training
# rate: on the demo, the largest of 1e-5, 3e-5, 1e-4 (train lr 1e-3) at
# which the retrained model's Dr R@1 fell by at most 5 points in 50 steps
# on 8 Df units (training data only; docs/robustness.md).
DEFAULT_RELEARN_SCALE = 0.03


def check(config, workdir: str) -> dict:
  """The record (module docstring); prints its table."""
  r = config.robustness
  if not r.quantize and not r.relearn_steps:
    raise errors.ConfigError(
        "robustness.quantize and robustness.relearn_steps are both empty: "
        "name a quantisation scheme or relearning step counts")
  with workdir_lock.scope():
    exp = worst_case.setup(config, workdir)
    labels = _labels(exp) if r.relearn_steps else None  # before compute
    trained = run_lib.train_all(exp)
    method = config.method.name
    models = {"original": trained["original"][0],
              "retrained": trained["retrained"][0]}
    if method != "retrain":
      models[method] = trained["unlearned"][0]
    evaluate_fn = exp.task.evaluator(exp.model, config)
    key = run_lib.eval_key(exp)
    attacks = list(r.quantize)
    metrics, spread = {NONE: {}}, {}
    for scheme in [NONE] + attacks:
      metrics[scheme] = {}
      for name, params in models.items():
        q = params if scheme == NONE else quantize.quantize_tree(params,
                                                                 scheme)
        cache = run_lib.eval_cache(exp, name, key)
        if cache and scheme != NONE:
          cache += f"_{scheme}"
        _, m = run_lib.evaluate_model(exp, evaluate_fn, f"{name} {scheme}",
                                      q, cache)
        metrics[scheme][name] = exp.task.headline_fractions(m)
    before = {}  # a relearning attack's unattacked models on its sets
    for name, params in models.items():
      for attack, (mean, std, base) in relearned(
          exp, name, params, evaluate_fn, key, labels).items():
        if attack not in metrics:
          attacks.append(attack)
          metrics[attack], spread[attack], before[attack] = {}, {}, {}
        metrics[attack][name], spread[attack][name] = mean, std
        before[attack][name] = base
    record = {"method": method, "attacks": attacks,
              "relearn": relearn_settings(exp) if r.relearn_steps else None,
              "metrics": metrics, "spread": spread, "before": before,
              "recovery": recovery_table(metrics, attacks, before)}
    record["forgetting_recovery"] = forgetting_recovery(record, exp.task)
    if distributed.is_main():
      for directory in (workdir, phases.unlearn_dir(exp)):
        io_utils.atomic_write_json(
            os.path.join(directory, ROBUSTNESS_FILE), record)
        plot(record["forgetting_recovery"],
             os.path.join(directory, PLOT_FILE),
             f"{exp.dataset_name}: recovery under each attack")
      print(table(record, exp.task))
    return record


def forgetting_metrics(task) -> list[str]:
  """The headline metrics that measure forgetting: the task's score on Df
  and its Df-vs-Dr AUCs."""
  names = {m.name for m in task.headline}
  wanted = [f"df/{task.score_metric}"] + [f"{a}/mean" for a in task.aucs]
  return [n for n in wanted if n in names]


def forgetting_recovery(record: dict, task) -> dict:
  """`{attack: {model: mean R}}` over `forgetting_metrics` (the finite
  ones; NaN where none is): one number per model and attack, for tables
  and plots."""
  keys = forgetting_metrics(task)
  out = {}
  for attack in record["attacks"]:
    by_model = record["recovery"][attack]
    out[attack] = {}
    for model, r in by_model.items():
      values = [r[k] for k in keys if r.get(k) is not None
                and math.isfinite(r[k])]
      out[attack][model] = (float(np.mean(values)) if values
                            else float("nan"))
  return out


def plot(summary: dict, path: str, title: str) -> str:
  """Grouped bars: per attack, each model's mean recovery score over the
  forgetting metrics (`forgetting_recovery`; 1 = moved as the retrained
  model did)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  attacks = list(summary)
  models = sorted({m for a in attacks for m in summary[a]})
  width = 0.8 / max(len(models), 1)
  fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(attacks) + 2), 4))
  for i, model in enumerate(models):
    x = np.arange(len(attacks)) + (i - (len(models) - 1) / 2) * width
    y = [summary[a].get(model, float("nan")) for a in attacks]
    ax.bar(x, y, width, label=model, color=f"C{i % 10}")
  ax.set_xticks(np.arange(len(attacks)), attacks, rotation=20, fontsize=8)
  ax.set_ylim(0, 1.05)
  ax.set_ylabel("recovery score R (1: as the retrained model)")
  ax.set_title(title, fontsize=10)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def relearn_settings(exp) -> dict:
  """What a relearning attack depends on besides the model (its learning
  rate resolved)."""
  r = exp.config.robustness
  return {"steps": [int(t) for t in r.relearn_steps],
          "data": r.relearn_data, "units": r.relearn_units,
          "batch_size": r.relearn_batch_size,
          "learning_rate": float(r.relearn_learning_rate or (
              DEFAULT_RELEARN_SCALE * exp.config.train.learning_rate)),
          "seeds": r.relearn_seeds, "grad_clip_norm":
          exp.config.train.grad_clip_norm}


def _labels(exp) -> dict | None:
  """Unit id -> class for "same_class" relearning (None otherwise);
  refuses data without classes before any compute."""
  if exp.config.robustness.relearn_data != "same_class":
    return None
  record = exp.train.source[0] if len(exp.train) else {}
  if "label" not in record:
    raise errors.ConfigError(
        "robustness.relearn_data = \"same_class\" draws Dr units of a Df "
        f"unit's class; {exp.dataset_name}'s units have no class: use "
        "\"forget\" or \"retain\"")
  labels = pipeline.read_column(exp.train.source, "label")
  return {int(i): int(y) for i, y in zip(exp.train.image_ids, labels)}


def _relearn_cache(exp, name: str, key: str) -> str:
  directory = (phases.unlearn_dir(exp) if name not in ("original",
                                                       "retrained")
               else phases.model_dir(exp, {"original": "original"}.get(
                   name, "retrain")))
  tag = phases.digest({"relearn": relearn_settings(exp), "eval": key,
                       "version": RELEARN_VERSION})
  return os.path.join(directory, f"relearn_{tag}.json")


def relearned(exp, name: str, params, evaluate_fn, key: str,
              labels: dict | None) -> dict:
  """`{attack: (mean, std, before)}`, each `{metric: value}` over the
  attack seeds, for every relearning step count of `config.robustness`
  (none: {}). Each seed's model is evaluated without the units it
  fine-tuned on (`held_out_sets`: Df minus them, as Łucki et al. split
  the forget set), and `before` is the unattacked model on the same sets,
  so a change is what the attack brought back on units it never saw.
  Computed once per model and attack setting (cached beside the
  model)."""
  r, c = exp.config.robustness, exp.config
  if not r.relearn_steps:
    return {}
  path = _relearn_cache(exp, name, key)
  if os.path.exists(path):
    cached = io_utils.read_json(
        path, what="cached relearning attack",
        remedy="delete it and rerun (the attack is run again)")
    return {a: tuple(v) for a, v in cached.items()}
  settings = relearn_settings(exp)
  seeds = [c.seed + k for k in range(r.relearn_seeds)]
  try:
    vmapped.check_num_models(len(seeds), exp.mesh)
    units = [relearn.attack_units(
        r.relearn_data, exp.deletion.forget_ids, exp.deletion.retain_ids,
        r.relearn_units, s, labels) for s in seeds]
  except ValueError as e:
    raise errors.ConfigError(f"robustness.relearn_*: {e}") from None
  tx, _ = optim.adamw(
      learning_rate=settings["learning_rate"],
      num_steps=settings["steps"][-1], warmup_steps=0, weight_decay=0.0,
      grad_clip_norm=c.train.grad_clip_norm, kind="constant")
  print(f"relearning attack on {name}: {r.relearn_data}, "
        f"{len(seeds)} seeds", flush=True)
  by_seed = dict(zip(seeds, units))
  after = relearn.fine_tune(
      params, term=exp.task.task_term(exp.model, itm_weight=c.train.itm_weight),
      tx=tx, rngs=train_phase.model_keys(seeds, fold=RELEARN_FOLD),
      mesh=exp.mesh, checkpoints=settings["steps"],
      batches=train_phase.stream_of(exp, seeds, lambda s: exp.training_stream(
          by_seed[s], r.relearn_batch_size, s)))
  sets = [held_out_sets(exp, u) for u in units]
  local = distributed.local_copy(params)
  before = _mean_std([exp.task.headline_fractions(evaluate_fn(
      local, sets[k], desc=f"{name} without seed {k}'s units"))
                      for k in range(len(seeds))])[0]
  out = {}
  for t, stacked in after.items():
    per_seed = [exp.task.headline_fractions(evaluate_fn(
        distributed.local_copy(vmapped.unstack(stacked, k)), sets[k],
        desc=f"{name} relearned {t} steps, seed {k}"))
                for k in range(len(seeds))]
    out[f"relearn_{r.relearn_data}_{t}"] = (*_mean_std(per_seed), before)
  if distributed.is_main():
    io_utils.atomic_write_json(path, out)
  return out


def held_out_sets(exp, units) -> dict:
  """`exp.eval_sets` without `units`: the Df and Dr sets that hold any of
  them loaded again without them (order kept), the others as they are."""
  sets = dict(exp.eval_sets)
  units = np.asarray(units)
  for name, ids in (("df", np.asarray(exp.deletion.forget_ids)),
                    ("dr", np.asarray(exp.eval_retain_ids()))):
    drop = np.isin(ids, units)
    if drop.any():
      sets[name] = pipeline.load_pairs(
          exp.train, ids[~drop], tok=exp.tokenizer, shape=exp.input_shape(),
          layout=exp.spec, desc=f"load {name} without the attack's units")
  return sets


def _mean_std(per_seed: list[dict]) -> tuple[dict, dict]:
  keys = per_seed[0]
  values = {k: np.asarray([m[k] for m in per_seed], np.float64)
            for k in keys}
  return ({k: float(v.mean()) for k, v in values.items()},
          {k: float(v.std()) for k, v in values.items()})


def recovery_table(metrics: dict, attacks, before: dict | None = None
                   ) -> dict:
  """`{attack: {model: {metric: R}}}` for every model but the retrained
  one, against the retrained model's change under the same attack; each
  change from `before[attack]` where it has the attack (the models on the
  attack's own sets), else from the models as they are."""
  out = {}
  for attack in attacks:
    base = (before or {}).get(attack) or metrics[NONE]
    after = metrics[attack]
    ref = {k: recovery.delta(base["retrained"][k], v)
           for k, v in after["retrained"].items()}
    out[attack] = {
        name: {k: recovery.recovery_score(
            recovery.delta(base[name][k], v), ref[k])
               for k, v in after[name].items()}
        for name in after if name != "retrained"}
  return out


def table(record: dict, task) -> str:
  """Per attack and model: the headline metrics, each with its change
  under the attack and its recovery score (markdown)."""
  names = [m.name for m in task.headline]
  titles = {m.name: m.title for m in task.headline}
  head = ["attack", "model"] + [titles[n] for n in names]
  lines = ["| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]
  finite = lambda v: v is not None and math.isfinite(v)
  for attack in [NONE] + record["attacks"]:
    base = (record.get("before") or {}).get(attack) or (
        record["metrics"][NONE])
    for model, values in record["metrics"][attack].items():
      r = record["recovery"].get(attack, {}).get(model, {})
      cells = []
      for n in names:
        v = values.get(n)
        text = report.number(v, ".3f") if finite(v) else "n/a"
        b = base.get(model, {}).get(n)
        if attack != NONE and finite(v) and finite(b):
          text += f" (Δ {v - b:+.3f}"
          text += f", R {r[n]:.2f})" if finite(r.get(n)) else ")"
        cells.append(text)
      lines.append("| " + " | ".join([attack, model] + cells) + " |")
  return "\n".join(lines + [
      "",
      "Metrics as fractions (relearning: the mean over attack seeds, each "
      "without the units it fine-tuned on); Δ: the change under the "
      "attack (relearning: from the unattacked model on the same units); "
      "R: the recovery score of that change against the retrained "
      "model's (1: as the retrained model moved; 0: moved where it did "
      "not)."])

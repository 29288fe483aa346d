"""Does the forgetting survive quantisation (issue 46; Zhang et al. 2024:
4-bit quantisation restores much of what LLM unlearning removed)? The
run's original, retrained and unlearned models (trained, or loaded when
finished) are evaluated as they are and after each simulated weight
quantisation (`robustness.quantize`: bf16, round to nearest, NF4; not
GPTQ / AWQ), with the task's own evaluation. For every headline metric,
each model's change under a scheme is scored against the retrained
model's change (`robustness.recovery`: 1 = moved as the retrained model
moved, 0 = moved where it did not). Writes robustness.json beside
results.json (the workdir and the method's run directory)."""

from __future__ import annotations

import math
import os

from mmul_jax import distributed
from mmul_jax import errors
from mmul_jax import experiment as experiment_lib
from mmul_jax import io_utils
from mmul_jax import workdir_lock
from mmul_jax.evaluation import report
from mmul_jax.robustness import quantize
from mmul_jax.robustness import recovery
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import run as run_lib

ROBUSTNESS_FILE = "robustness.json"
NONE = "none"  # the models as they are


def quantization(config, workdir: str, schemes) -> dict:
  """The record (module docstring); prints its table."""
  try:  # errors before any compute
    schemes = [quantize.parse(s).name for s in schemes]
  except ValueError as e:
    raise errors.ConfigError(f"--quantize: {e}") from None
  with workdir_lock.scope():
    exp = experiment_lib.setup(config, workdir)
    trained = run_lib.train_all(exp)
    method = config.method.name
    models = {"original": trained["original"][0],
              "retrained": trained["retrained"][0]}
    if method != "retrain":
      models[method] = trained["unlearned"][0]
    evaluate_fn = exp.task.evaluator(exp.model, config)
    key = run_lib.eval_key(exp)
    metrics = {}
    for scheme in [NONE] + schemes:
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
    record = {"method": method, "schemes": schemes, "metrics": metrics,
              "recovery": recovery_table(metrics, schemes)}
    if distributed.is_main():
      for directory in (workdir, phases.unlearn_dir(exp)):
        io_utils.atomic_write_json(
            os.path.join(directory, ROBUSTNESS_FILE), record)
      print(table(record, exp.task))
    return record


def recovery_table(metrics: dict, schemes) -> dict:
  """`{scheme: {model: {metric: R}}}` for every model but the retrained
  one, against the retrained model's change under the same scheme."""
  base, out = metrics[NONE], {}
  for scheme in schemes:
    after = metrics[scheme]
    ref = {k: recovery.delta(base["retrained"][k], v)
           for k, v in after["retrained"].items()}
    out[scheme] = {
        name: {k: recovery.recovery_score(
            recovery.delta(base[name][k], v), ref[k])
               for k, v in after[name].items()}
        for name in after if name != "retrained"}
  return out


def table(record: dict, task) -> str:
  """Per scheme and model: the headline metrics, and the recovery score
  of each beside it (markdown)."""
  names = [m.name for m in task.headline]
  titles = {m.name: m.title for m in task.headline}
  head = ["scheme", "model"] + [titles[n] for n in names]
  lines = ["| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]
  for scheme in [NONE] + record["schemes"]:
    for model, values in record["metrics"][scheme].items():
      r = record["recovery"].get(scheme, {}).get(model, {})
      cells = []
      for n in names:
        v = values.get(n, float("nan"))
        text = "n/a" if not math.isfinite(v) else report.number(v, ".3f")
        if n in r and math.isfinite(r[n]):
          text += f" (R {r[n]:.2f})"
        cells.append(text)
      lines.append("| " + " | ".join([scheme, model] + cells) + " |")
  return "\n".join(lines + [
      "",
      "Metrics as fractions; R: the recovery score of the model's change "
      "under the scheme against the retrained model's change (1: as the "
      "retrained model moved; 0: moved where it did not)."])

"""Converting results of schema version 1 to the current record.

Schema 1 (before the record had a version) nested every metric
(`models.<model>.test.itc.r1_mean`), named the Df-vs-Dr AUCs
`df_vs_dr_auc` and `df_vs_dr_auc_itm`, and kept the headline metrics,
overall scores, gaps to the retrained model and times in `summary`, under
short names (`test_r1`, `auc`, `mia_df_non_member`, ...). `convert` maps a
results.json object onto schema 2 (`evaluation.results`) and
`convert_record` a benchmark records.jsonl line; both only rename and
move, no value is recomputed. `scripts/convert_results.py` converts files.
"""

from __future__ import annotations

import json
import os
import shutil

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.data import datasets
from mmul_jax.evaluation import results

# What schema 1's `df_vs_dr_auc` scored pairs by, per task kind.
_MAIN_AUC = {"retrieval": "auc/cosine", "graph_text": "auc/cosine",
             "classification": "auc/p_true"}
# Schema 1's short headline names -> (flat name, units per fraction); the
# headline AUC's name depends on the task (`_MAIN_AUC`).
_HEADLINE = {
    "test_r1": ("test/itc/r1_mean", 100), "df_r1": ("df/itc/r1_mean", 100),
    "dr_r1": ("dr/itc/r1_mean", 100), "test_acc": ("test/accuracy", 100),
    "df_acc": ("df/accuracy", 100), "dr_acc": ("dr/accuracy", 100),
    "auc_match": ("auc/match/mean", 1),
    "knowledge_gap": ("mubench/knowledge_gap", 1),
    "zrf": ("mubench/zrf", 1),
    "mia_df_non_member": ("mubench/mia/target_non_member_rate", 1),
    "mia_df_auc": ("mubench/mia/target_auc", 1), "mean": ("mean", 1)}
_SUMMARY = {"df_vs_dr_auc_itm_progress": "progress/auc/match",
            "test_r1_mean_change_itc": "change/test/itc/r1_mean",
            "test_r1_mean_change_itm": "change/test/itm/r1_mean",
            "test_accuracy_change": "change/test/accuracy"}


def _task_of(old: dict) -> str:
  """The task kind of a schema-1 results object: its `task` field, else its
  dataset's (records written before the field)."""
  if old.get("task"):
    return old["task"]
  name = old.get("config", {}).get("data", {}).get("name")
  if name not in datasets.DATASETS:
    raise errors.DataError(
        f"cannot tell the task of a schema-1 results record of dataset "
        f"{name!r}; rerun the run that wrote it")
  return datasets.DATASETS[name].task


def _headline_name(name: str, task: str) -> str:
  return f"{_MAIN_AUC[task]}/mean" if name == "auc" else _HEADLINE[name][0]


def _metrics(evaluation: dict, task: str) -> results.Metrics:
  nested = {}
  for key, value in evaluation.items():
    if key == "df_vs_dr_auc":
      nested.setdefault("auc", {})[_MAIN_AUC[task].split("/")[1]] = value
    elif key == "df_vs_dr_auc_itm":
      nested.setdefault("auc", {})["match"] = value
    elif key != "wall_seconds":
      nested[key] = value
  return results.flatten(nested)


def _deletion(d: dict) -> dict:
  return {"unit": d["unit"], "ratio": d["ratio"], "seed": d["seed"],
          "num_forget_units": d["num_forget_images"],
          "num_forget_examples": d["num_forget_pairs"],
          "num_retain_units": d["num_retain_images"], "sha256": d["sha256"]}


def convert(old: dict) -> dict:
  """A schema-1 results.json object as a schema-2 one (`Results.to_json`).

  Examples:
    >>> old = {"task": "classification", "dataset": "d", "method": "m",
    ...        "deletion": {"unit": "pair", "ratio": 5.0, "seed": 0,
    ...                     "num_forget_images": 2, "num_forget_pairs": 2,
    ...                     "num_retain_images": 38, "sha256": "ab"},
    ...        "models": {"original": {"test": {"accuracy": 70.0},
    ...                                "df_vs_dr_auc": {"mean": 0.5},
    ...                                "wall_seconds": 9.0}},
    ...        "summary": {"overall": {"original": 0.8}, "retrain_gap": {},
    ...                    "df_vs_dr_auc_progress": None},
    ...        "devices": ["cpu:0"], "total_seconds": 10.0, "config": {}}
    >>> new = convert(old)
    >>> new["models"]["original"]["metrics"]
    {'test/accuracy': 70.0, 'auc/p_true/mean': 0.5}
    >>> new["summary"]
    {'progress/auc/p_true': None}
  """
  if results.version_of(old) != 1:
    results.check_version(old, "the record to convert")
    return old
  task, s = _task_of(old), old["summary"]
  gaps, seconds = s.get("retrain_gap", {}), s.get("seconds", {})
  models = {}
  for k, evaluation in old["models"].items():
    gap = gaps.get(k)
    models[k] = {
        "metrics": _metrics(evaluation, task),
        "overall": s["overall"][k],
        "retrain_gap": None if gap is None else {
            _headline_name(n, task): v for n, v in gap.items()},
        "wall_seconds": evaluation.get("wall_seconds"),
        "eval_seconds": seconds.get(k, {}).get("evaluate")}
  summary = {}
  for key, value in s.items():
    if key == "df_vs_dr_auc_progress":
      summary[f"progress/{_MAIN_AUC[task]}"] = value
    elif key in _SUMMARY:
      summary[_SUMMARY[key]] = value
  return results.Results(
      task=task, dataset=old["dataset"], method=old["method"],
      deletion=results.Deletion(**_deletion(old["deletion"])),
      models={k: results.ModelResults(**v) for k, v in models.items()},
      summary=summary, devices=old["devices"],
      total_seconds=old["total_seconds"], config=old["config"]).to_json()


def convert_record(old: dict, task: str | None = None) -> dict:
  """A schema-1 benchmark records.jsonl line as a schema-2 one
  (`unlearn.benchmark.record_of`). Schema 1 lines do not name their task:
  it is `task` if given, else "classification" for accuracy metrics and
  "retrieval" otherwise (give "graph_text" for molecule grids). Headline
  fractions become the metrics' own units (% for recall and accuracy,
  ×100, exact to float rounding)."""
  if results.version_of(old) != 1:
    results.check_version(old, "the record to convert")
    return old
  if task is None:
    first = next(iter(old["metrics"].values()))
    task = "classification" if "test_acc" in first else "retrieval"
  if task not in _MAIN_AUC:
    raise errors.DataError(f"schema-1 records have no task {task!r}; use "
                           f"one of {sorted(_MAIN_AUC)}")

  def native(metrics: dict) -> dict:
    out = {}
    for n, v in metrics.items():
      scale = 1 if n == "auc" else _HEADLINE[n][1]
      out[_headline_name(n, task)] = v if scale == 1 else v * scale
    return out

  gap = old.get("retrain_gap")
  return {**{k: v for k, v in old.items()
             if k not in ("metrics", "retrain_gap", "deletion")},
          "schema_version": results.SCHEMA_VERSION, "task": task,
          "deletion": _deletion(old["deletion"]),
          "metrics": {k: native(v) for k, v in old["metrics"].items()},
          "retrain_gap": None if gap is None else {
              _headline_name(n, task): v for n, v in gap.items()}}


def load(d: dict, source: str = "results record") -> results.Results:
  """A results.json object of either schema as the current record."""
  if results.version_of(d) == 1:
    d = convert(d)
  return results.Results.from_json(d, source=source)


def convert_file(path: str, task: str | None = None) -> int:
  """Converts a results.json, or a benchmark records.jsonl (by its
  `.jsonl` suffix), of schema 1 in place: the original is kept as
  `PATH.v1` and the converted file is written atomically. Returns how many
  records were converted (0: it was already current and is untouched).
  `task` is for records.jsonl lines (`convert_record`)."""
  if path.endswith(".jsonl"):
    with open(path, encoding="utf-8") as f:
      lines = [ln for ln in f.read().splitlines() if ln.strip()]
    try:
      old = [json.loads(ln) for ln in lines]
    except ValueError as e:
      raise errors.DataError(f"{path} is not JSON lines ({e}); fix or "
                             "delete the bad line") from None
    new = [convert_record(r, task) for r in old]
    changed = sum(results.version_of(r) == 1 for r in old)
    for n, r in enumerate(new):
      results.check_version(r, f"{path}, line {n + 1}")
    out = "".join(json.dumps(r, sort_keys=True) + "\n" for r in new)
  else:
    old = io_utils.read_json(path, what="results file",
                             remedy="rerun the run that wrote it")
    new = convert(old)
    changed = int(results.version_of(old) == 1)
    out = json.dumps(new, indent=2, sort_keys=True) + "\n"
  if not changed:
    return 0
  backup = path + ".v1"
  if os.path.exists(backup):
    raise errors.DataError(f"{backup} exists (the original of an earlier "
                           "conversion?); move it away, then convert again")
  shutil.copy2(path, backup)
  io_utils.atomic_write_text(path, out)
  return changed

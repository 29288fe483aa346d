"""MU-Bench's protocol: methods x deletion sets x seeds, on one task or
across tasks (`benchmark.datasets`).

A grid cell is one method on one deletion set (ratio, seed, strategy) of
one dataset with one model width. Every cell of a dataset and width runs
`unlearn.run.run` in the same workdir (`<workdir>/<dataset>` for a grid
over datasets, `.../w<width>` when it varies the width), so the
original model is trained once per width, the retrained reference once per
deletion set, and their evaluations are cached beside them. Each
finished cell appends one JSON line to `records.jsonl`; a restarted grid
reads it and runs only the missing cells (a cell killed half-way resumes
from its own checkpoints). The report (`leaderboard.py`) is rebuilt from
the records.

Everything the grid needs is checked before the first cell computes:
every cell's config, that some cell is left to run and none is listed
twice, every dataset's files, pretrained weights and tokenizer, and every
line of `records.jsonl` (one record per cell, each value of the type the
writer writes).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import itertools
import json
import math
import os
import time
from typing import Callable, Sequence

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import pretrained
from mmul_jax import recipes
from mmul_jax import tasks
from mmul_jax import workdir_lock
from mmul_jax.data import datasets
from mmul_jax.data.core import tokenizer_policy
from mmul_jax.evaluation import results
from mmul_jax.unlearn import phases
from mmul_jax.unlearn import robustness as robustness_lib
from mmul_jax.unlearn import run as run_lib
from mmul_jax.unlearn import tune

RECORDS_FILE = "records.jsonl"


def parse_settings(settings: Sequence[str], names=None,
                   what: str = "benchmark.settings",
                   kind: str = "method") -> dict[str, dict]:
  """`("mmul: unlearn.learning_rate=3e-4, method.mmul.ukr_weight=30",)`
  -> `{"mmul": {"unlearn.learning_rate": 3e-4, ...}}`; entries start with
  one of `names` (default: the methods)."""
  out: dict[str, dict] = {}
  known = config_schema.known_keys()
  names = sorted(methods.METHODS if names is None else names)
  for entry in settings:
    name, sep, rest = entry.partition(":")
    name = name.strip()
    if not sep or name not in names:
      raise errors.ConfigError(
          f"{what} entry {entry!r} must start with a {kind} name and a "
          f"colon, one of {names}")
    for pair in filter(None, (p.strip() for p in rest.split(","))):
      key, eq, value = pair.partition("=")
      if not eq:
        raise errors.ConfigError(f"{what}: {pair!r} is not key=value")
      key = key.strip()
      if key not in known or key == "method.name":
        raise errors.ConfigError(
            f"{what} entry {entry!r}: " + (
                "method.name is the entry's own method" if key ==
                "method.name" else config_schema.unknown_key_message(key,
                                                                     known)))
      try:
        parsed = ast.literal_eval(value.strip())
      except (ValueError, SyntaxError):
        parsed = value.strip()
      out.setdefault(name, {})[key] = parsed
  return out


def grid_datasets(config) -> tuple[str, ...]:
  """The grid's datasets (`benchmark.datasets`, the real ones they stand
  in for with `data.source=real`); empty: one dataset, the config's."""
  names = tuple(config.benchmark.datasets)
  if config.data.source == "real":
    names = tuple(recipes.real_task_of(n) for n in names)
  return names


def refusals(config) -> list[tuple[str, str, str]]:
  """`(method, dataset, why)` for each method of the grid that a dataset's
  task refuses (MMUL on one modality)."""
  out = []
  for dataset in grid_datasets(config) or (config.data.name,):
    task = tasks.for_dataset(
        datasets.DATASETS[recipes.split_backbone(dataset)[0]]
        if grid_datasets(config) else datasets.spec_of(config.data))
    for m in config.benchmark.methods:
      why = methods.get(m).task_problems(config.method.get(m), task)
      if why:
        out.append((m, dataset, why[0]))
  return out


def cells(config) -> list[dict]:
  """Every cell of the grid, datasets then deletion sets outermost (so
  each retrained model is trained once, before its methods). Without
  `benchmark.model_widths` the model is the config's. A method the
  dataset's task refuses (MMUL on one modality) has no cell there."""
  bc = config.benchmark
  widths = bc.model_widths or (config.model.vision_width,)
  refused = {(m, d) for m, d, _ in refusals(config)}
  out = []
  for dataset in grid_datasets(config) or (None,):
    kept = [m for m in bc.methods
            if (m, dataset or config.data.name) not in refused]
    for w, s, r, d, m in itertools.product(widths, bc.strategies, bc.ratios,
                                           bc.seeds, kept):
      cell = {"width": int(w), "strategy": s, "ratio": float(r),
              "seed": int(d), "method": m}
      out.append({"dataset": dataset, **cell} if dataset else cell)
  return out


def skipped(config) -> list[str]:
  """`method on dataset` for each pair the grid leaves out (the task
  refuses the method)."""
  return [f"{m} on {d}" for m, d, _ in refusals(config)]


def cell_key(cell: dict) -> str:
  key = (f"{cell['method']}|w{cell['width']}|{cell['strategy']}|"
         f"r{cell['ratio']:g}|seed{cell['seed']}")
  return f"{cell['dataset']}|{key}" if "dataset" in cell else key


def record_key(cell: dict, config) -> str:
  """The cell and a digest of its unlearning settings (the one that names
  its unlearning directory), so changed settings are new cells; with
  `benchmark.robustness`, and of its attacks too."""
  key = f"{cell_key(cell)}|{phases.settings_digest(config)}"
  if config.benchmark.robustness:
    key += f"|rob{phases.digest(config.robustness.to_dict())}"
  return key


def cell_config(base, cell: dict, settings: dict,
                dataset_settings: dict | None = None):
  """A cell's config: its dataset's recipe (in a grid over datasets) and
  `dataset_settings`, then its method, deletion set and width, then the
  method's `settings`."""
  c = base.copy_and_resolve_references()
  if "dataset" in cell:  # "<dataset>[@<backbone>]"
    recipes.task_recipe(c, cell["dataset"])
    c.update_from_flattened_dict((dataset_settings or {}).get(
        cell["dataset"], {}))
  c.method.name = cell["method"]
  c.deletion.ratio = cell["ratio"]
  c.deletion.seed = cell["seed"]
  c.deletion.strategy = cell["strategy"]
  if base.benchmark.model_widths:
    for key in ("vision_width", "text_width", "fusion_width"):
      c.model[key] = cell["width"]
  c.update_from_flattened_dict(settings.get(cell["method"], {}))
  return c


# What the leaderboard reads.
_RECORD_KEYS = ("key", "method", "task", "width", "strategy", "ratio",
                "seed", "metrics", "overall", "retrain_gap", "seconds")


def _finite_or_none(x) -> bool:
  """A value as the writer writes a number (`record_of`)."""
  return x is None or (isinstance(x, (int, float)) and not isinstance(
      x, bool) and math.isfinite(x))


def check_record(r, where: str) -> None:
  """Raises `DataError` (`where`: file and line) unless `r` is a grid
  record the leaderboard can read: the cell's fields of their types, the
  original's, retrained and method's metrics, and every number finite or
  null, as `record_of` writes them."""
  fix = "delete that line to rerun its cell"
  if isinstance(r, dict) and "key" in r:
    results.check_version(r, where)
  if not isinstance(r, dict) or any(k not in r for k in _RECORD_KEYS):
    raise errors.DataError(
        f"{where} is JSON but not a grid record (a record has "
        f"{', '.join(_RECORD_KEYS)}); {fix}")

  def bad(what):
    raise errors.DataError(f"{where}: {what}; {fix}")

  for k in ("key", "method", "strategy", "task", "dataset"):
    if k in r and not isinstance(r[k], str):
      bad(f"{k} is {r[k]!r}, not a string")
  for k in ("width", "seed"):
    if isinstance(r[k], bool) or not isinstance(r[k], int):
      bad(f"{k} is {r[k]!r}, not an integer")
  if r["ratio"] is None or not _finite_or_none(r["ratio"]):
    bad(f"ratio is {r['ratio']!r}, not a finite number")
  if r["task"] not in tasks.TASKS:
    bad(f"task {r['task']!r} is not one of {sorted(tasks.TASKS)}")
  if not isinstance(r["metrics"], dict):
    bad(f"metrics is {r['metrics']!r}, not an object")
  for model in ("original", "retrained", r["method"]):
    if not isinstance(r["metrics"].get(model), dict):
      bad(f"metrics has no {model!r} model")
  for k in ("overall", "retrain_gap", "seconds"):  # a gap may be null
    if not (isinstance(r[k], dict) or k == "retrain_gap" and r[k] is None):
      bad(f"{k} is {r[k]!r}, not an object")
  numbers = {f"metrics.{m}.{n}": v for m, values in r["metrics"].items()
             if isinstance(values, dict) for n, v in values.items()}
  for k in ("overall", "retrain_gap", "seconds"):
    numbers.update({f"{k}.{n}": v for n, v in (r[k] or {}).items()})
  numbers["auc_progress"] = r.get("auc_progress")
  robust = r.get("robustness")  # only with benchmark.robustness
  if robust is not None and not (isinstance(robust, dict) and all(
      isinstance(v, dict) for v in robust.values())):
    bad(f"robustness is {robust!r}, not an object of objects")
  for attack, by_model in (robust or {}).items():
    numbers.update({f"robustness.{attack}.{m}": v
                    for m, v in by_model.items()})
  for name, v in numbers.items():
    if not _finite_or_none(v):
      bad(f"{name} is {v!r}, not a finite number or null")


def read_records(path: str) -> dict[str, dict]:
  """Finished cells by key (`check_record`). A last line cut short by a
  kill is dropped (and removed from the file, atomically), so that cell
  runs again; a last line that lost only its newline gets it back; any
  other bad line, one of another schema version (`evaluation.results`),
  or a second line of the same cell stops with its number and nothing is
  rewritten."""
  return _read(path)[0]


def _read(path: str) -> tuple[dict[str, dict], dict[str, int]]:
  """`read_records` and the line number of each record."""
  if not os.path.exists(path):
    return {}, {}
  with open(path, "rb") as f:
    data = f.read()
  lines = data.split(b"\n")
  records, line_of, good = {}, {}, []
  fix = "delete that line to rerun its cell"
  for n, raw in enumerate(lines):
    if not raw.strip():
      continue
    last = not any(ln.strip() for ln in lines[n + 1:])
    try:
      line = raw.decode("utf-8")
      r = json.loads(line)
    except UnicodeDecodeError:
      if last:  # a kill can cut a character in two
        continue
      raise errors.DataError(f"{path}, line {n + 1} is not UTF-8 text; "
                             f"{fix}") from None
    except ValueError:  # only the last line may be torn
      if last:
        continue
      raise errors.DataError(f"{path}, line {n + 1} is not JSON; {fix}"
                             ) from None
    check_record(r, f"{path}, line {n + 1}")
    if r["key"] in records:  # the grid appends each cell once
      raise errors.DataError(
          f"{path}, lines {line_of[r['key']]} and {n + 1} are both the "
          f"record of cell {r['key']!r}; delete one of them (both to rerun "
          "the cell)")
    records[r["key"]], line_of[r["key"]] = r, n + 1
    good.append(line)
  # Rewritten without a torn last line, or with the newline a write cut
  # off (the next record would otherwise be appended onto that line).
  if len(good) != sum(1 for ln in lines if ln.strip()) or (
      good and not data.endswith(b"\n")):
    io_utils.atomic_write_text(path, "".join(ln + "\n" for ln in good))
  return records, line_of


def append_record(path: str, record: dict) -> None:
  """One line per cell, flushed to disk before the next cell starts."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "a") as f:
    f.write(json.dumps(record, sort_keys=True) + "\n")
    f.flush()
    os.fsync(f.fileno())


def record_of(cell: dict, key: str, res: results.Results) -> dict:
  """What the leaderboard needs from one cell's results: the headline
  metrics (by flat name, in their own units) of the original, retrained
  and unlearned models, their overall scores, the method's gaps to the
  retrained model, the headline AUC's progress and the times."""
  method = cell["method"]
  task = tasks.get(res.task)
  models = ("original", "retrained", method)
  m = res.models[method]
  return {
      "schema_version": results.SCHEMA_VERSION, "key": key, **cell,
      "task": res.task, "dataset": res.config["data"]["name"],
      "deletion": dataclasses.asdict(res.deletion),
      **results.finite_or_none({
          "metrics": {k: {h.name: res.models[k].metrics[h.name]
                          for h in task.headline} for k in models},
          "overall": {k: res.models[k].overall for k in models},
          "retrain_gap": m.retrain_gap,
          "auc_progress": res.summary[f"progress/{task.aucs[0]}"],
          "seconds": {"unlearn": m.wall_seconds, "evaluate": m.eval_seconds,
                      "with_evaluation": (m.wall_seconds or 0.0)
                      + (m.eval_seconds or 0.0),
                      "retrain": res.models["retrained"].wall_seconds}}),
  }


def cell_workdir(config, cell: dict, workdir: str) -> str:
  """Where a cell's models live: one directory per dataset in a grid over
  datasets, and per model width when the grid varies it (their
  checkpoints differ in shape)."""
  if "dataset" in cell:
    workdir = os.path.join(workdir, cell["dataset"])
  if config.benchmark.model_widths:
    return os.path.join(workdir, f"w{cell['width']}")
  return workdir


# Each cell names its own method; the base config's (often "mmul", which a
# one-modality task refuses) is never run, so the grid's own keys are
# checked with finetune in its place: it takes every task and setting.
_STAND_IN = "finetune"


def run(config, workdir: str, *, quiet: bool = True,
        run_cell: Callable | None = None) -> list[dict]:
  """Runs the missing cells of `config.benchmark`'s grid; returns every
  record, in grid order. `run_cell(config, workdir) -> results.Results`
  defaults to the full unlearning run (tests pass another). Everything
  the grid needs is checked before the first cell (module docstring)."""
  base = config.copy_and_resolve_references()
  base.method.name = _STAND_IN
  config_schema.validate(base)  # the grid's own keys, before the cells
  _check_distinct(config)
  bc = config.benchmark
  # Tuned settings first (scripts/tune.py); benchmark.settings override.
  settings = tune.read_settings(bc.tuned) if bc.tuned else {}
  for name, s in parse_settings(bc.settings).items():
    settings[name] = {**settings.get(name, {}), **s}
  per_dataset = parse_settings(bc.dataset_settings, grid_datasets(config),
                               "benchmark.dataset_settings", "dataset")
  grid = cells(config)
  if not grid:
    raise errors.ConfigError(
        "benchmark: no cell to run, " + (
            "the tasks of benchmark.datasets refuse" if bc.datasets
            else "the task refuses") + " every method of benchmark.methods: "
        + "; ".join(f"{m} on {d}: {why}" for m, d, why in refusals(config)))
  configs = [cell_config(config, cell, settings, per_dataset)
             for cell in grid]
  for c in configs:  # every cell's config is checked before any compute
    config_schema.validate(c)
  _check_inputs(configs)
  keys = [record_key(cell, c) for cell, c in zip(grid, configs)]
  with workdir_lock.scope():
    experiment.lock_workdir(config, workdir)  # records.jsonl is the grid's
    return _run_cells(config, workdir, grid, configs, keys, quiet,
                      run_cell or run_lib.run)


def _check_distinct(config) -> None:
  """A value listed twice would run its cells twice and count them twice
  in the leaderboard."""
  bc = config.benchmark
  for key, values, given, why in (
      ("methods", bc.methods, bc.methods, ""),
      # As cell keys write them (`cell_key`: 6 significant digits).
      ("ratios", [float(f"{float(r):g}") for r in bc.ratios], bc.ratios,
       "as a record key writes them"),
      ("seeds", bc.seeds, bc.seeds, ""),
      ("strategies", bc.strategies, bc.strategies, ""),
      ("model_widths", bc.model_widths, bc.model_widths, ""),
      ("datasets", grid_datasets(config), bc.datasets,
       f"with data.source={config.data.source}")):
    seen = {}
    for v, name in zip(values, given):
      if v in seen:
        also = "" if seen[v] == name else f" ({seen[v]!r} and {name!r} {why})"
        raise errors.ConfigError(
            f"benchmark.{key} lists {v!r} twice{also}; each cell runs and "
            "counts once")
      seen[v] = name


def _check_inputs(configs) -> None:
  """What a run checks first (`experiment.setup`: a manual dataset's
  files, pretrained weights, a tokenizer file), for every cell's data and
  model, so a later dataset's missing files stop the grid before the
  first cell computes rather than after it."""
  seen = set()
  for c in configs:
    what = json.dumps([c.data.to_dict(), c.model.to_dict()],
                      sort_keys=True, default=str)
    if what in seen:
      continue
    seen.add(what)
    datasets.check_available(c.data)
    spec = datasets.spec_of(c.data)
    if c.model.pretrained:
      pretrained.check_model_config(os.path.expanduser(c.model.pretrained),
                                    c.model)
    if tokenizer_policy.tokenizer_source(c.model, spec) != "trained":
      tokenizer_policy.make_tokenizer(c.model, spec)


def _robustness(config, workdir: str, quiet: bool) -> dict:
  """`{attack: {"original": R, method: R}}`: the cell's robustness check,
  each model's mean recovery over the forgetting metrics."""
  with (contextlib.redirect_stdout(io.StringIO()) if quiet
        else contextlib.nullcontext()):
    record = robustness_lib.check(config, workdir)
  method = config.method.name
  return results.finite_or_none({
      a: {m: v for m, v in by_model.items() if m in ("original", method)}
      for a, by_model in record["forgetting_recovery"].items()})


def _run_cells(config, workdir, grid, configs, keys, quiet, run_cell):
  path = os.path.join(workdir, RECORDS_FILE)
  done, line_of = _read(path)
  for cell, key in zip(grid, keys):  # a key edited onto another record
    r = done.get(key)
    if r is not None and any(r.get(k) != v for k, v in cell.items()):
      raise errors.DataError(
          f"{path}, line {line_of[key]} is filed under the key of cell "
          f"{cell_key(cell)} but is the record of "
          f"{cell_key({k: r.get(k) for k in cell})}; delete that line to "
          "rerun its cell")
  todo = [i for i, k in enumerate(keys) if k not in done]
  print(f"benchmark: {len(grid)} cells, {len(grid) - len(todo)} done, "
        f"{len(todo)} to run", flush=True)
  if skipped(config):
    print("benchmark: left out (the task refuses the method): "
          + ", ".join(skipped(config)), flush=True)
  for n, i in enumerate(todo):
    t0 = time.perf_counter()
    with (contextlib.redirect_stdout(io.StringIO()) if quiet
          else contextlib.nullcontext()):
      results = run_cell(configs[i], cell_workdir(config, grid[i], workdir))
    record = record_of(grid[i], keys[i], results)
    if configs[i].benchmark.robustness:
      record["robustness"] = _robustness(
          configs[i], cell_workdir(config, grid[i], workdir), quiet)
    append_record(path, record)
    done[keys[i]] = record
    print(f"[{n + 1}/{len(todo)}] {cell_key(grid[i])}: "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
  return [done[k] for k in keys]

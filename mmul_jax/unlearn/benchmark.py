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
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import itertools
import json
import os
import time
from typing import Callable, Sequence

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax import io_utils
from mmul_jax import methods
from mmul_jax import recipes
from mmul_jax import tasks
from mmul_jax import workdir_lock
from mmul_jax.data import datasets
from mmul_jax.evaluation import results
from mmul_jax.unlearn import phases
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
    names = tuple(recipes.REAL_OF.get(n, n) for n in names)
  return names


def cells(config) -> list[dict]:
  """Every cell of the grid, datasets then deletion sets outermost (so
  each retrained model is trained once, before its methods). Without
  `benchmark.model_widths` the model is the config's. A method the
  dataset's task refuses (MMUL on one modality) has no cell there."""
  bc = config.benchmark
  widths = bc.model_widths or (config.model.vision_width,)
  out = []
  for dataset in grid_datasets(config) or (None,):
    task = tasks.for_dataset(datasets.DATASETS[dataset or config.data.name])
    kept = [m for m in bc.methods
            if not methods.get(m).check_task(config.method.get(m), task)]
    for w, s, r, d, m in itertools.product(widths, bc.strategies, bc.ratios,
                                           bc.seeds, kept):
      cell = {"width": int(w), "strategy": s, "ratio": float(r),
              "seed": int(d), "method": m}
      out.append({"dataset": dataset, **cell} if dataset else cell)
  return out


def skipped(config) -> list[str]:
  """`method on dataset` for each pair the grid leaves out (the task
  refuses the method)."""
  bc = config.benchmark
  out = []
  for dataset in grid_datasets(config):
    task = tasks.for_dataset(datasets.DATASETS[dataset])
    out += [f"{m} on {dataset}" for m in bc.methods
            if methods.get(m).check_task(config.method.get(m), task)]
  return out


def cell_key(cell: dict) -> str:
  key = (f"{cell['method']}|w{cell['width']}|{cell['strategy']}|"
         f"r{cell['ratio']:g}|seed{cell['seed']}")
  return f"{cell['dataset']}|{key}" if "dataset" in cell else key


def record_key(cell: dict, config) -> str:
  """The cell and a digest of its unlearning settings (the one that names
  its unlearning directory), so changed settings are new cells."""
  return f"{cell_key(cell)}|{phases.settings_digest(config)}"


def cell_config(base, cell: dict, settings: dict,
                dataset_settings: dict | None = None):
  """A cell's config: its dataset's recipe (in a grid over datasets) and
  `dataset_settings`, then its method, deletion set and width, then the
  method's `settings`."""
  c = base.copy_and_resolve_references()
  if "dataset" in cell:
    recipes.mubench_task(c, cell["dataset"])
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
_RECORD_KEYS = ("key", "method", "task", "metrics")


def read_records(path: str) -> dict[str, dict]:
  """Finished cells by key. A last line cut short by a kill is dropped
  (and removed from the file, atomically), so that cell runs again; any
  other bad line, or one of another schema version (`evaluation.results`),
  stops with its number and nothing is rewritten."""
  if not os.path.exists(path):
    return {}
  with open(path, "rb") as f:
    lines = f.read().split(b"\n")
  records, good = {}, []
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
    if isinstance(r, dict) and "key" in r:
      results.check_version(r, f"{path}, line {n + 1}")
    if not isinstance(r, dict) or any(k not in r for k in _RECORD_KEYS):
      raise errors.DataError(
          f"{path}, line {n + 1} is JSON but not a grid record (a record "
          f"has {', '.join(_RECORD_KEYS)}); {fix}")
    records[r["key"]] = r
    good.append(line)
  if len(good) != sum(1 for ln in lines if ln.strip()):
    io_utils.atomic_write_text(path, "".join(ln + "\n" for ln in good))
  return records


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
      "metrics": {k: {h.name: res.models[k].metrics[h.name]
                      for h in task.headline} for k in models},
      "overall": {k: res.models[k].overall for k in models},
      "retrain_gap": m.retrain_gap,
      "auc_progress": res.summary[f"progress/{task.aucs[0]}"],
      "seconds": {"unlearn": m.wall_seconds, "evaluate": m.eval_seconds,
                  "with_evaluation": (m.wall_seconds or 0.0)
                  + (m.eval_seconds or 0.0),
                  "retrain": res.models["retrained"].wall_seconds},
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


def run(config, workdir: str, *, quiet: bool = True,
        run_cell: Callable | None = None) -> list[dict]:
  """Runs the missing cells of `config.benchmark`'s grid; returns every
  record, in grid order. `run_cell(config, workdir) -> results.Results`
  defaults to the full unlearning run (tests pass another)."""
  config_schema.validate(config)  # the grid's own keys, before the cells
  bc = config.benchmark
  # Tuned settings first (scripts/tune.py); benchmark.settings override.
  settings = tune.read_settings(bc.tuned) if bc.tuned else {}
  for name, s in parse_settings(bc.settings).items():
    settings[name] = {**settings.get(name, {}), **s}
  per_dataset = parse_settings(bc.dataset_settings, grid_datasets(config),
                               "benchmark.dataset_settings", "dataset")
  grid = cells(config)
  configs = [cell_config(config, cell, settings, per_dataset)
             for cell in grid]
  for c in configs:  # every cell's config is checked before any compute
    config_schema.validate(c)
  keys = [record_key(cell, c) for cell, c in zip(grid, configs)]
  with workdir_lock.scope():
    experiment.lock_workdir(config, workdir)  # records.jsonl is the grid's
    return _run_cells(config, workdir, grid, configs, keys, quiet,
                      run_cell or run_lib.run)


def _run_cells(config, workdir, grid, configs, keys, quiet, run_cell):
  path = os.path.join(workdir, RECORDS_FILE)
  done = read_records(path)
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
    append_record(path, record)
    done[keys[i]] = record
    print(f"[{n + 1}/{len(todo)}] {cell_key(grid[i])}: "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
  return [done[k] for k in keys]

"""Which deletion set a run forgets (`config.deletion`), and whether the
training and unlearning batches and the evaluation fit in it."""

from __future__ import annotations

import dataclasses
import os

import ml_collections
import numpy as np

from mmul_jax import errors
from mmul_jax.data.core import deletion
from mmul_jax.data.core import pipeline


def deletion_set(d: ml_collections.ConfigDict, train: pipeline.ImageTextSplit,
                 dataset_name: str, root: str, *,
                 example_rows: str | None = None,
                 memorised_rows=None) -> deletion.DeletionSet:
  """Df as `config.deletion` says: imported from a MU-Bench file, or the
  seeded uniform (all standard ratios written at once) or class-skewed
  set, from its manifest under `root`. `example_rows` names the records'
  feature of their examples' rows where MU-Bench's file lists examples
  rather than units (NLVR2's statements; `DatasetSpec.example_rows`).
  The `memorised` strategy's train rows are chosen with the original
  model (`unlearn.worst_case`) and given as `memorised_rows`."""
  ratio = float(d.ratio)
  if d.count:
    if d.count >= len(train):
      raise errors.ConfigError(
          f"deletion.count ({d.count}) must be below the {len(train)} "
          "training units")
    ratio = 100.0 * d.count / len(train)
  if d.get("ids_file"):
    return _ids_set(d.ids_file, train, dataset_name, root)
  if d.mubench_file:
    return _mubench_set(d.mubench_file, train, dataset_name, root, ratio,
                        example_rows)
  if d.strategy == "memorised":
    if memorised_rows is None:
      raise errors.ConfigError(
          "deletion.strategy = \"memorised\" is chosen with the original "
          "model: run it through scripts/unlearn.py (or another run "
          "script), not scripts/train.py")
    return _rows_set(np.asarray(memorised_rows), train, dataset_name, root,
                     "memorised", lambda df: f"memorised_{df.sha256[:10]}")
  if d.strategy == "class":
    return _class_set(train, pipeline.read_column(train.source, "label"),
                      d.skew_class, dataset_name, root)
  if d.strategy == "class_skewed":
    return deletion.skewed_set(
        root, train.image_ids, pipeline.read_column(train.source, "label"),
        dataset=dataset_name, seed=d.seed, ratio=ratio,
        skew_class=d.skew_class)
  # The standard ratios too (nested manifests), where they delete anything.
  n = len(train.image_ids)
  ratios = sorted({r for r in deletion.STANDARD_RATIOS
                   if 0 < deletion.unit_count(r, n) < n} | {ratio})
  return deletion.standard_sets(root, train.image_ids, dataset=dataset_name,
                                seed=d.seed, ratios=ratios)[ratio]


def _mubench_set(path: str, train: pipeline.ImageTextSplit,
                 dataset_name: str, root: str, ratio: float,
                 example_rows: str | None) -> deletion.DeletionSet:
  """A MU-Bench index file's Df, its manifest written under `root` (with
  how its example rows map to units, where they do)."""
  if example_rows is None:
    rows = _mubench_rows(path, len(train), ratio)
    df = deletion.from_rows(rows, train.image_ids, ratio=ratio,
                            dataset=dataset_name)
  else:
    per_record = [np.atleast_1d(np.asarray(train.source[i][example_rows],
                                           np.int64))
                  for i in range(len(train))]
    owner = deletion.example_row_owners(per_record,
                                        f"{dataset_name}'s train split")
    rows = _mubench_rows(path, len(owner), ratio)
    units, mapping = deletion.units_of_example_rows(rows, owner)
    df = deletion.from_rows(units, train.image_ids, ratio=ratio,
                            dataset=dataset_name, mapping=mapping)
  deletion.save(df, deletion.manifest_path(
      root, dataset_name, df.seed, df.ratio, f"mubench_{df.sha256[:10]}"))
  return df


def _ids_set(path: str, train: pipeline.ImageTextSplit, dataset_name: str,
             root: str) -> deletion.DeletionSet:
  """Df listed by id (`deletion.ids_file`): the records' `key` (a user's
  table, `data.files`), else their unit ids; its manifest under `root`."""
  record = train.source[0] if len(train) else {}
  if "key" in record:
    keys = [bytes(k).decode() if isinstance(k, (bytes, np.bytes_)) else
            str(k) for k in pipeline.read_column(train.source, "key")]
  else:
    keys = [str(int(i)) for i in train.image_ids]
  rows = deletion.read_ids_file(path, keys)
  if len(rows) >= len(train):
    raise errors.DataError(f"deletion.ids_file {path} lists every train "
                           "unit; keep at least one")
  return _rows_set(rows, train, dataset_name, root, "ids",
                   lambda df: f"ids_{df.sha256[:10]}")


def _rows_set(rows, train: pipeline.ImageTextSplit, dataset_name: str,
              root: str, source: str, tag) -> deletion.DeletionSet:
  """Df of the given train `rows` (ratio: their share of the units),
  marked `source`, its manifest under `root` named `tag(df)`."""
  df = deletion.from_rows(rows, train.image_ids,
                          ratio=100.0 * len(rows) / len(train),
                          dataset=dataset_name)
  df = dataclasses.replace(df, source=source)
  deletion.save(df, deletion.manifest_path(root, dataset_name, df.seed,
                                           df.ratio, tag(df)))
  return df


def _class_set(train: pipeline.ImageTextSplit, labels, k: int,
               dataset_name: str, root: str) -> deletion.DeletionSet:
  """Every unit of class `k` (class-wise forgetting: SalUn's CIFAR-10
  DDPM forgets one class); ratio = its share of the units."""
  labels = np.asarray(labels)
  rows = np.flatnonzero(labels == k)
  if not 0 < len(rows) < len(train):
    raise errors.ConfigError(
        f"deletion.skew_class = {k}: the train split has {len(rows)} units "
        f"of that class (of {len(train)}); choose a class in "
        f"{sorted(set(labels.tolist()))} that has units and is not all "
        "of them")
  return _rows_set(rows, train, dataset_name, root, f"all_class{k}",
                   lambda df: df.source)


def _mubench_rows(path: str, num_rows: int, ratio: float) -> np.ndarray:
  """The rows of a MU-Bench index file, or of the ratio's 0/1 mask in a
  directory of per-ratio masks (UCF101's)."""
  if os.path.isdir(path):
    return deletion.read_mubench_mask(path, num_rows=num_rows, ratio=ratio)
  return deletion.read_mubench_indices(path, num_rows=num_rows, ratio=ratio)


def check_fits(config, df: deletion.DeletionSet) -> None:
  """The training and unlearning batches and the evaluation's Dr samples
  must fit in the deletion set (before any compute). A batch larger than
  its set would repeat units within a batch."""
  n_df, n_dr = len(df.forget_ids), len(df.retain_ids)
  if config.train.batch_size > n_dr:  # the retrained model trains on Dr
    raise errors.ConfigError(
        f"train.batch_size ({config.train.batch_size}) exceeds the {n_dr} "
        "retained units (Dr) the retrained model trains on; lower it to at "
        f"most {n_dr}")
  if config.unlearn.df_batch_size > n_df:
    raise errors.ConfigError(
        f"unlearn.df_batch_size ({config.unlearn.df_batch_size}) exceeds the "
        f"{n_df} deleted images; lower it or raise deletion.ratio")
  if config.unlearn.dr_batch_size > n_dr:
    raise errors.ConfigError(
        f"unlearn.dr_batch_size ({config.unlearn.dr_batch_size}) exceeds the "
        f"{n_dr} retained images")
  n_eval = eval_retain_count(df, max_images=config.eval.max_dr_images,
                             num_samples=config.eval.auc_num_samples)
  if config.eval.auc_num_samples * n_df > n_eval:  # same check as at eval
    raise errors.ConfigError(
        f"eval.auc_num_samples ({config.eval.auc_num_samples}) disjoint Dr "
        f"samples of |Df| = {n_df} images do not fit in the {n_eval} "
        "evaluated Dr images; lower eval.auc_num_samples or deletion.ratio, "
        "or raise eval.max_dr_images")


def carve_validation(df: deletion.DeletionSet, fraction: float,
                     seed: int) -> tuple[deletion.DeletionSet, np.ndarray]:
  """`(D without V, V)`: a validation set V of `fraction` of the units,
  drawn (with `seed`) from Dr only, so Df is untouched and never
  validates. Every model of the run trains without V, which then stands
  in for the held-out test split (`data.validation_fraction`)."""
  retain = df.retain_ids
  n = int(round(fraction * len(df.all_ids)))
  if not 0 < n < len(retain):
    raise errors.ConfigError(
        f"data.validation_fraction ({fraction:g}) of {len(df.all_ids)} "
        f"units holds {n} of the {len(retain)} retained units; it must "
        "hold at least one and leave some to train on")
  rng = np.random.default_rng([int(seed), 0x7a1])
  val = np.sort(rng.choice(retain, n, replace=False))
  kept = dataclasses.replace(df, all_ids=np.setdiff1d(df.all_ids, val))
  kept.check()
  return kept, val


AUC_SAMPLES = -1  # eval.max_dr_images: as many Dr units as the AUC reads


def eval_retain_count(df: deletion.DeletionSet, *, max_images: int,
                      num_samples: int) -> int:
  """How many Dr units are evaluated: all (`max_images` 0), `max_images`
  of them, or (`AUC_SAMPLES`) the `num_samples * |Df|` that the Df-vs-Dr
  AUC's disjoint samples and MU-Bench's same-size galleries read; never
  more than Dr has."""
  if max_images == AUC_SAMPLES:
    max_images = num_samples * len(df.forget_ids)
  n_dr = len(df.retain_ids)
  return min(n_dr, max_images or n_dr)


def eval_retain_ids(df: deletion.DeletionSet, *, max_images: int,
                    seed: int, num_samples: int) -> np.ndarray:
  """The `eval_retain_count` Dr units evaluated, drawn with `seed` (the
  same for every model of a run)."""
  return sample_ids(df.retain_ids, eval_retain_count(
      df, max_images=max_images, num_samples=num_samples), seed)


def sample_ids(ids, n: int, seed: int) -> np.ndarray:
  """`n` of `ids` drawn with `seed`, sorted; all of them if `n` is 0 or
  not fewer."""
  ids = np.asarray(ids)
  if not n or n >= len(ids):
    return ids
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(ids, n, replace=False))

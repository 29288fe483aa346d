"""Your own data end to end: for each task kind, a tiny table and folder
the test writes (JSONL, CSV, Parquet, a save_to_disk directory), through
scripts/prepare.py and scripts/unlearn.py on configs/own_data.py with a
tiny model, forgetting the units a user lists (`deletion.ids_file`) or a
MU-Bench index file's rows of the table. Each run is checked for its
task, its deletion set and finite metrics, not their values (a dozen
units learn little)."""

import json
import os

import own_files
import pytest
import script_checks

# configs/tiny.py's model and a few steps.
TINY = ("--config.model.vision_layers=1", "--config.model.text_layers=1",
        "--config.model.vision_width=32", "--config.model.text_width=32",
        "--config.model.fusion_width=32", "--config.model.embed_dim=32",
        "--config.model.vocab_size=256", "--config.model.context_length=24",
        "--config.train.batch_size=8", "--config.train.num_steps=4",
        "--config.train.warmup_steps=1", "--config.unlearn.num_steps=2",
        "--config.unlearn.df_batch_size=2",
        "--config.unlearn.dr_batch_size=4", "--config.eval.batch_size=32",
        "--config.eval.auc_num_samples=1", "--config.eval.rerank_k=0",
        "--config.tensorboard=False")
# task kind -> (table format, extra flags, the run's task, the deletion).
CASES = {
    "retrieval": ("csv", ["--config.data.files.id_column=unit"],
                  "retrieval", "ids"),
    "text_classification": (
        "jsonl", ["--config.data.files.classes=red,green,blue",
                  "--config.data.files.id_column=id"],
        "unimodal_classification", "mubench"),
    "image_classification": (
        "parquet", ["--config.data.files.classes=red,green,blue",
                    "--config.data.files.id_column=id"],
        "unimodal_classification", "ids"),
    "audio_classification": (
        "saved", ["--config.data.files.classes=low,mid,high",
                  "--config.data.files.sample_rate=8000",
                  "--config.model.sample_rate=8000",
                  "--config.data.audio_samples=2000",
                  "--config.model.audio_window=200",
                  "--config.model.audio_hop=80"],
        "unimodal_classification", "ratio"),
}
SLOW = {  # the same on the kinds whose models compile longer
    "image_text_classification": (
        "csv", ["--config.data.files.classes=yes,no",
                "--config.data.files.id_column=unit"],
        "classification", "ids"),
    "molecule_text": ("jsonl", ["--config.data.max_atoms=0",
                                "--config.data.max_edges=0"],
                      "graph_text", "ratio"),
    "video_classification": (
        "jsonl", ["--config.data.files.classes=ApplyEyeMakeup,Archery,YoYo"],
        "unimodal_classification", "ratio"),
}


def _deletion(tmp_path, how, keys):
  """Flags forgetting units 1 and 5 of the train table by id, or rows 3
  and 7 by a MU-Bench index file (its 10% set: ratio 10 takes both)."""
  if how == "ids":
    path = tmp_path / "forget.txt"
    path.write_text(f"{keys[1]}\n{keys[5]}\n")
    return [f"--config.deletion.ids_file={path}"], 2
  if how == "mubench":
    path = tmp_path / "mubench.txt"
    path.write_text("3\n7\n")
    return [f"--config.deletion.mubench_file={path}",
            "--config.deletion.ratio=10"], 2
  return ["--config.deletion.ratio=25"], 6


@pytest.mark.parametrize("kind", [
    *CASES, *(pytest.param(k, marks=pytest.mark.slow) for k in SLOW)])
def test_your_own_table_end_to_end(tmp_path, kind):
  fmt, flags, task, how = {**CASES, **SLOW}[kind]
  keys = own_files.make(str(tmp_path / "mine"), kind, fmt)
  data = [f"--config.{k}={v}" for k, v in keys.items() if k != "data.name"]
  data.append(f"--config.data.data_dir={tmp_path / 'tfds'}")
  ids = ([f"train-{i}" for i in range(24)]
         if "--config.data.files.id_column=unit" in flags
         or "--config.data.files.id_column=id" in flags else
         [str(i) for i in range(24)])
  forget, n_forget = _deletion(tmp_path, how, ids)
  common = [f"--workdir={tmp_path / 'run'}", *data, *flags]
  prepare = script_checks.script("prepare", "own_data", *common)
  prepare[2] += f":task={kind}"
  prepared = script_checks.run(prepare, timeout=300)
  assert "train: 24 units" in prepared.stdout, prepared.stdout
  assert os.path.getsize(tmp_path / "run" / "prepared" / "samples.png") > 0
  summary = json.loads(
      (tmp_path / "run" / "prepared" / "summary.json").read_text())
  assert summary["splits"]["test"]["units"] == 9
  command = script_checks.script("unlearn", "own_data", *common, *TINY,
                                 *forget)
  command[2] += f":task={kind}"
  script_checks.run(command, timeout=600)
  results = json.loads((tmp_path / "run" / "results.json").read_text())
  assert results["task"] == task
  assert results["dataset"].startswith(f"own_files/{kind}_")
  assert results["deletion"]["num_forget_units"] == n_forget
  assert set(results["models"]) >= {"original", "retrained"}

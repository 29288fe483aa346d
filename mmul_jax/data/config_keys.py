"""The `data.*` and `deletion.*` config keys: default, doc and check."""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax.config_keys import Check
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import POSITIVE_INT
from mmul_jax.config_keys import Section
from mmul_jax.config_keys import int_at_least
from mmul_jax.config_keys import is_number
from mmul_jax.config_keys import one_of
from mmul_jax.data import datasets
from mmul_jax.data.files import units

IMAGE_CHANNELS = 3  # data.mean / data.std: one value per RGB channel

_PER_CHANNEL = Check(
    lambda v: isinstance(v, (tuple, list)) and len(v) == IMAGE_CHANNELS
    and all(is_number(x) for x in v),
    f"{{key}} must be {IMAGE_CHANNELS} numbers (one per RGB channel), got "
    "{value!r}")
_GRAPH_BUDGET = int_at_least(0, "0: the largest molecule's")


def _positive_std(config) -> None:
  if min(config.data.std) <= 0:
    raise errors.ConfigError(f"data.std must be > 0, got {config.data.std!r}")


DATA = Section("data", {
    "name": Key("shapes_captions", "the dataset (`mmul_jax.data.datasets."
                "DATASETS`; docs/datasets.md lists them), or `files`: your "
                "own tables (`data.files.*`, docs/own-data.md)",
                one_of(datasets.NAMES)),
    "data_dir": Key("", "TFDS data dir; empty: `~/tensorflow_datasets`"),
    "manual_dir": Key("", "real datasets: the hand-downloaded files; empty: "
                      "`<data_dir>/downloads/manual`"),
    "num_train": Key(2000, "units of the train split (embedded datasets)",
                     POSITIVE_INT),
    "num_test": Key(500, "units of the test split (embedded datasets)",
                    POSITIVE_INT),
    "captions_per_image": Key(2, "1-4 texts per unit (descriptions per "
                              "molecule for `molecule_text`)", POSITIVE_INT),
    "image_size": Key(32, "pixels; must equal `model.image_size`",
                      POSITIVE_INT),
    "seed": Key(0, "generation seed"),
    "mean": Key((0.5, 0.5, 0.5), "per-channel image normalisation `(x/255 - "
                "mean)/std` (`config_schema.CLIP_MEAN` for CLIP)",
                _PER_CHANNEL),
    "std": Key((0.25, 0.25, 0.25), "per-channel image scale, > 0 "
               "(`config_schema.CLIP_STD` for CLIP)", _PER_CHANNEL),
    "max_atoms": Key(32, "molecule datasets: every graph padded to this many "
                     "heavy atoms, so a step compiles once (a larger "
                     "molecule stops the run at setup); 0: the largest "
                     "molecule's", _GRAPH_BUDGET),
    "max_edges": Key(72, "molecule datasets: the directed bonds (2 per bond) "
                     "every graph is padded to; 0: the largest molecule's",
                     _GRAPH_BUDGET),
    "prompt_length": Key(32, "generation datasets: tokens of a prompt "
                          "(the question or dialogue, its start cut when "
                          "longer), left-padded", POSITIVE_INT),
    "answer_length": Key(32, "generation datasets: tokens of an answer, "
                          "its end-of-text token included (its end cut "
                          "when longer), right-padded", POSITIVE_INT),
    "prompt_template": Key("{question}", "generation datasets: how a "
                           "question becomes the prompt (a checkpoint's "
                           "chat format, e.g. 'USER: {question} "
                           "ASSISTANT:'); a LLaVA checkpoint needs "
                           "{image} where its image tokens go: 'USER: "
                           "{image}\\n{question} ASSISTANT:'"),
    "source": Key("embedded", "`real`: `benchmark.datasets` name the real "
                  "datasets their embedded ones stand in for (each "
                  "dataset's `GridRecipe.stands_in_for`); not read by a "
                  "single run", one_of(("embedded", "real"))),
    "audio_samples": Key(4000, "audio datasets: every waveform cut or "
                         "zero-padded to this many samples", POSITIVE_INT),
    "num_frames": Key(8, "video datasets: frames sampled evenly from each "
                      "clip; a multiple of `model.tubelet_size`",
                      POSITIVE_INT),
    "validation_fraction": Key(
        0.0, "> 0: this fraction of the units, drawn from Dr (never Df), is "
        "held out of every model's training and evaluated in the test "
        "split's place; no test example is loaded or scored (the tuner's "
        "way)", Check(lambda v: is_number(v) and 0 <= v < 0.5,
                      "{key} must be a number in [0, 0.5) (0: evaluate on "
                      "the test split), got {value!r}")),
    "skip_bad_rows": Key(False, "`data.name = files`: leave out (and count) "
                         "the rows that fail their checks instead of "
                         "refusing the first"),
}, rules=(_positive_std,))

FILES = Section("data.files", {
    "task": Key("retrieval", "what a row holds: `retrieval` (an image and "
                "caption(s)), `image_text_classification` (an image, a "
                "sentence, a label), `molecule_text` (SMILES and "
                "description(s)), `image_classification`, "
                "`text_classification`, `audio_classification`, "
                "`video_classification` (an input and a label)",
                one_of(tuple(units.KINDS))),
    "train": Key("", "the train split's table: a .jsonl, .csv or .parquet "
                 "file, a folder of Parquet shards, or a save_to_disk "
                 "directory"),
    "test": Key("", "the test split's table, in the same form"),
    "root": Key("", "where a table's relative file paths start; empty: the "
                "table's folder"),
    "id_column": Key("", "the column of unit ids (what `deletion.ids_file` "
                     "lists); empty: the input (grouped tasks: an image "
                     "path, a SMILES) or the row number (one row per unit)"),
    "input_column": Key("", "the input's column (a file path relative to "
                        "`root`, bytes, or a Hugging Face Image/Audio "
                        "struct; a text; a SMILES); empty: `image`, `text`, "
                        "`audio`, `video` or `smiles` by task"),
    "text_column": Key("", "grouped tasks: the text column (a string or a "
                       "list per row); empty: `caption`, `sentence` or "
                       "`description` by task"),
    "label_column": Key("label", "labelled tasks: the label column (a class "
                        "name, or an index into `classes`)"),
    "classes": Key("", "labelled tasks: the class names in label order, "
                   "comma-separated (`cat,dog`)"),
    "sample_rate": Key(16000, "audio: the WAV files' rate in Hz (16-bit "
                       "mono); must equal `model.sample_rate`", POSITIVE_INT),
})


def _count_or_file(config) -> None:
  d = config.deletion
  if d.ids_file and (d.mubench_file or d.count):
    raise errors.ConfigError(
        "deletion.ids_file names Df itself: leave deletion.mubench_file "
        "empty and deletion.count=0")
  if d.count and d.mubench_file:
    raise errors.ConfigError("deletion.count does not apply to a MU-Bench "
                             "file (its sets are ratios); set "
                             "deletion.count=0")
  if d.mubench_file and not 0 < d.ratio <= 10:
    raise errors.ConfigError("a MU-Bench deletion file holds the 10% set: "
                             "deletion.ratio must be in (0, 10]")


DELETION = Section("deletion", {
    "ratio": Key(5.0, "percent of training units deleted, in (0, 100)",
                 Check(lambda v: 0.0 < float(v) < 100.0,
                       "{key} must be a percentage in (0, 100), got "
                       "{value}")),
    "count": Key(0, "> 0: delete exactly this many units (the paper's "
                 "sizes; ratio = count / |D|)",
                 int_at_least(0, "0: use deletion.ratio")),
    "seed": Key(0, "deletion-set seed"),
    "strategy": Key("uniform", "`uniform`; `class_skewed`: Df drawn from "
                    "the units of one class only, same size (the "
                    "dataset-bias analysis); `class`: every unit of one "
                    "class (class-wise forgetting; ratio and count unused); "
                    "`memorised`: the ratio's count of units the original "
                    "model scores most like members (worst case; "
                    "docs/robustness.md)",
                    one_of(("uniform", "class_skewed", "class",
                            "memorised"))),
    "skew_class": Key(0, "with `class_skewed` or `class`: the class "
                      "(shapes: 0 circle, 1 square, 2 triangle, 3 cross)"),
    "mubench_file": Key("", "a MU-Bench index file (the 10% set, one 0-based "
                        "train row per line); Df = its first ratio/10 of "
                        "lines; ratio in (0, 10]"),
    "ids_file": Key("", "a file of the units to forget, one id per line "
                    "(`data.files.id_column`'s values; the datasets' own "
                    "integer unit ids otherwise); Df = all of them, "
                    "`deletion.ratio` and `count` unused"),
}, rules=(_count_or_file,))

"""A whole run (train the original, retrain, unlearn, evaluate, write the
results) on the fake copy of each real dataset's download
(tests/fixtures/, made by make_fake_datasets.py), each with another
method: every real-data builder runs end to end in the default suite, and
with it the loop of ten methods on five task kinds and four modalities.
The fixtures are a few dozen units, so the metrics are checked for
being there and finite, not for their values (tests/signal_test.py checks
that unlearning moves them)."""

import math
import os

import pytest

from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax.unlearn import run as run_lib

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "fixtures")
_TEXT = {"model.vocab_size": 256, "model.context_length": 40}
# dataset -> (method, config changes, the task kind).
CASES = {
    "coco_karpathy": ("mmul_plus", {**_TEXT, "deletion.ratio": 25.0},
                      "retrieval"),
    "flickr30k_karpathy": ("salun", {**_TEXT, "deletion.ratio": 25.0,
                                     "method.salun.mask_batches": 2},
                           "retrieval"),
    "nlvr2": ("randlabel", {**_TEXT, "deletion.count": 3,
                            "method.randlabel.target": "labels"},
              "classification"),
    "snli_ve": ("npo", {**_TEXT, "deletion.count": 3}, "classification"),
    "chebi20": ("bad_teaching", {**_TEXT, "deletion.ratio": 20.0,
                                 "data.max_atoms": 0, "data.max_edges": 0},
                "graph_text"),
    "cifar100": ("neggrad", {"deletion.ratio": 25.0},
                 "unimodal_classification"),
    "imdb": ("scrub", {**_TEXT, "deletion.ratio": 25.0,
                       "method.scrub.period": 2, "method.scrub.max_steps": 1},
             "unimodal_classification"),
    "ddi2013": ("delete", {**_TEXT, "deletion.ratio": 25.0},
                "unimodal_classification"),
    "speech_commands": ("dtd", {"model.sample_rate": 16000,
                                "data.audio_samples": 4000,
                                "model.audio_window": 400,
                                "model.audio_hop": 160,
                                "deletion.ratio": 25.0},
                        "unimodal_classification"),
    "ucf101": ("fisher", {"deletion.ratio": 25.0,
                          "method.fisher.num_batches": 2},
               "unimodal_classification"),
}


@pytest.mark.parametrize("dataset", sorted(CASES))
def test_a_whole_run_on_the_fake_download(tmp_path, tiny_config, dataset,
                                          caplog):
  method, changes, kind = CASES[dataset]
  c = tiny_config.copy_and_resolve_references()
  c.data.name = dataset
  c.data.data_dir = str(tmp_path / "tfds")
  c.data.manual_dir = os.path.join(FIXTURES, dataset)
  c.method.name = method
  c.train.batch_size = 4  # the fixtures keep a few units in Dr
  c.unlearn.df_batch_size, c.unlearn.dr_batch_size = 2, 4
  c.eval.auc_num_samples = 1
  c.eval.rerank_k = 0  # the re-ranking has its own tests; compiles cost
  c.tensorboard = False
  c.update_from_flattened_dict(changes)
  workdir = tmp_path / "run"
  results = run_lib.run(c, str(workdir))
  # A method that harms a model whatever its settings says so as it runs.
  caution = methods.get(method).caution
  assert not caution or caution in caplog.text
  assert results.task == kind and results.method == method
  assert results.dataset.startswith(dataset)
  assert set(results.models) == {"original", "retrained", method}
  assert results.deletion.num_forget_units >= 1
  task = tasks.for_results(results)
  for model in results.models.values():
    for metric in task.headline:
      value = model.metrics[metric.name]
      if (metric.name.startswith("mubench/mia/")
          and "mubench/mia/not_computable" in model.metrics):
        continue  # a few test clips: too few non-members for the attack
      assert isinstance(value, float) and math.isfinite(value), (
          metric.name, value)
  assert (workdir / run_lib.RESULTS_FILE).exists()
  assert (workdir / run_lib.SCORES_FILE).exists()
  assert "Df" in task.table(results)

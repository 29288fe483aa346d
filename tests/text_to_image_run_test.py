"""The text-to-image task kind end to end through `unlearn.run` on a tiny
diffusion UNet over the embedded shapes: denoising losses and the judge's
reproduction per split, the Df-vs-Dr AUC by the denoising loss, the
scores file and the table, with NPO on the denoising loss; the judge
models trained on the same data (a dual encoder's cosine and Fréchet
distance on the shapes; at class level, forgetting every unit of one
class, a classifier's accuracy on each set's prompts); the methods that
compare logits, MMUL, and a model or normalisation that cannot generate
refused before any compute."""

import os

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import tasks
from mmul_jax.evaluation import results as results_lib
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import run as run_lib


def _config(tiny_config, data_dir, method):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "shapes_t2i"
  c.data.num_train, c.data.num_test = 40, 10
  c.data.image_size = c.model.image_size = 16
  c.data.mean = c.data.std = (0.5, 0.5, 0.5)
  c.model.arch = "unet"
  c.model.unet_channels = (8,)  # one level: the least to compile
  c.model.unet_attention_levels = ()
  c.model.unet_heads = 2
  c.model.text_heads = 2
  c.model.diffusion_steps = 50
  c.eval.sample_steps = 3
  c.eval.num_generated = 8
  c.eval.judge_steps = 5
  c.method.name = method
  return c


def test_text_to_image_runs_end_to_end(tmp_path, tiny_config, data_dir):
  c = _config(tiny_config, data_dir, "npo")
  results = run_lib.run(c, str(tmp_path))
  assert set(results.models) == {"original", "retrained", "npo"}
  assert results.task == "text_to_image"
  for m in results.models.values():
    for split in ("df", "dr", "test"):
      assert m.metrics[f"{split}/denoise_loss"] > 0
      assert 0 <= m.metrics[f"{split}/reproduction"] <= 100
      # The dual encoder judge (shapes_captions' model on the same items).
      assert np.isfinite(m.metrics[f"{split}/frechet"])
      assert -1 <= m.metrics[f"{split}/cosine"] <= 1
      assert np.isnan(m.metrics[f"{split}/judge_accuracy"])  # no classifier
    assert 0 <= m.metrics["auc/denoise/mean"] <= 1
  table = tasks.for_results(results).table(results)
  assert "Df reproduction" in table and "test cosine" in table
  assert "judge acc" not in table
  # The same table from the results file read back (no metric as null).
  read = results_lib.read(os.path.join(str(tmp_path), "results.json"))
  assert tasks.for_results(read).table(read).split("\n")[0] == (
      table.split("\n")[0])
  # The judge trained once, in its own directory per setting.
  (judge,) = (tmp_path / "judges").glob("shapes_captions_*")
  assert (judge / "original").is_dir()
  grid = os.path.join(str(tmp_path), "samples.png")
  assert os.path.getsize(grid) > 1000  # the three models' sample grid
  scores, task = score_files.load(os.path.join(str(tmp_path), "scores.npz"))
  assert task == "text_to_image"
  n = results.deletion.num_forget_examples
  for key in ("loss", "denoise", "loss_t0"):
    df = scores["original"]["df"][key]
    assert df.shape == (n,) and np.isfinite(df).all(), key


def test_class_level_forgetting_is_judged_by_a_classifier(
    tmp_path, tiny_config, data_dir):
  c = _config(tiny_config, data_dir, "finetune")
  c.data.name = "shapes_cifar_t2i"
  c.data.num_train, c.data.captions_per_image = 96, 1
  c.deletion.strategy, c.deletion.skew_class = "class", 0
  c.unlearn.df_batch_size = 2
  results = run_lib.run(c, str(tmp_path))
  d = results.deletion
  assert d.num_forget_units == d.num_forget_examples < 10  # one class of 32
  for m in results.models.values():
    for split in ("df", "dr", "test"):
      assert 0 <= m.metrics[f"{split}/judge_accuracy"] <= 100
      assert np.isfinite(m.metrics[f"{split}/frechet"])
      # The dual encoder trained on the same records as retrieval pairs.
      assert -1 <= m.metrics[f"{split}/cosine"] <= 1
      assert np.isnan(m.metrics[f"{split}/reproduction"])  # no exact judge
  table = tasks.for_results(results).table(results)
  assert "Df judge acc" in table and "reproduction" not in table.split(
      "\n")[0]
  # The score read per split is the judge's accuracy.
  m = results.models["finetune"].metrics
  assert tasks.for_results(results).split_scores(m)["df"] == (
      m["df/judge_accuracy"])


@pytest.mark.parametrize("method, match", [
    ("scrub", "compares the models' logits"),
    ("mmul", "retrieval losses do not apply"),
    ("simnpo", "runs on generation")])
def test_methods_that_cannot_run_are_refused(tmp_path, tiny_config, data_dir,
                                             method, match):
  c = _config(tiny_config, data_dir, method)
  with pytest.raises(errors.ConfigError, match=match):
    run_lib.run(c, str(tmp_path))
  assert not os.path.exists(tmp_path / "original")


@pytest.mark.parametrize("edit, match", [
    (lambda c: setattr(c.data, "std", (0.25, 0.25, 0.25)), "in \\[-1, 1\\]"),
    (lambda c: setattr(c.model, "arch", "clip"), "'clip' cannot run "
     "shapes_t2i"),
    (lambda c: setattr(c.data, "name", "shapes_captions"),
     "'unet' cannot run shapes_captions"),
    (lambda c: setattr(c.model, "unet_attention_levels", (3,)),
     "names level 3"),
    (lambda c: setattr(c.model, "unet_channels", (12, 16)),
     "unet_channels 12 is not a multiple")])
def test_settings_that_cannot_work_are_refused(tmp_path, tiny_config,
                                               data_dir, edit, match):
  c = _config(tiny_config, data_dir, "finetune")
  edit(c)
  with pytest.raises(errors.ConfigError, match=match):
    run_lib.run(c, str(tmp_path))


# The methods that run here but NPO (the default suite's) and retrain.
RUNS_HERE = ("finetune", "neggrad", "neggrad_plus", "l1_sparse", "randlabel",
             "salun", "fisher", "dtd", "esd")


@pytest.mark.slow
def test_every_method_that_runs_here_runs(tmp_path, tiny_config, data_dir):
  for method in RUNS_HERE:
    c = _config(tiny_config, data_dir, method)
    results = run_lib.run(c, str(tmp_path))  # one workdir: trained once
    m = results.models[method].metrics
    assert np.isfinite(m["df/denoise_loss"]), method
    assert 0 <= m["auc/denoise/mean"] <= 1, method


@pytest.mark.slow
def test_shadow_models_audit_the_denoising_loss(tmp_path, tiny_config,
                                                data_dir):
  """U-LiRA against K retrained diffusion models (vmapped), by the
  per-example denoising loss: retraining is its own reference."""
  from mmul_jax.unlearn import shadow
  c = _config(tiny_config, data_dir, "npo")
  c.train.num_steps, c.unlearn.num_steps = 4, 2
  c.shadow.num_models, c.shadow.methods = 4, ("npo", "retrain")
  audit = shadow.run(c, str(tmp_path))["audit"]
  assert set(audit) == {"original", "retrained", "npo", "retrain"}
  assert audit["retrain"]["loss"]["ulira"]["auc"] == 0.5
  assert 0 <= audit["npo"]["loss"]["ulira"]["auc"] <= 1

"""The text-generation task kind end to end through `unlearn.run` on a
tiny Llama-layout model over the embedded TOFU stand-in: the metrics,
the scores file and the table; every general method (slow); and the
model-task pairing refused before any compute."""

import os

import jax
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import run as run_lib

MULTIMODAL = ("mmul", "mmul_plus")
LANGUAGE_MODEL = sorted(n for n, m in methods.METHODS.items()
                        if m.kinds and m.runs_on("generation"))
GENERAL = sorted(n for n, m in methods.METHODS.items()
                 if not m.kinds and n not in MULTIMODAL + ("retrain",))


def _config(tiny_config, data_dir, method):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "authors"
  c.data.num_train, c.data.num_test = 40, 10
  c.data.prompt_length, c.data.answer_length = 16, 24
  c.model.arch = "llama"
  c.model.kv_heads = 2
  c.method.name = method
  c.method.randlabel.target = "answers"
  c.method.salun.target = "answers"
  return c


def _check(results, method, workdir):
  assert set(results.models) == {"original", "retrained", method}
  assert results.task == "generation"
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/rougeL_recall"] <= 100
      assert 0 < m.metrics[f"{split}/p_answer"] <= 1
      assert m.metrics[f"{split}/truth_ratio"] > 0
      assert 0 < m.metrics[f"{split}/p_normalised"] <= 1
      assert 0 <= m.metrics[f"{split}/verbmem"] <= 100
    assert 0 <= m.metrics["auc/p_answer/mean"] <= 1
    assert 0 <= m.metrics["mia/min_k"] <= 1
    assert 0 <= m.metrics["model_utility"] <= 1
    assert 0 <= m.metrics["forget_quality"] <= 1
  assert results.models["retrained"].metrics["forget_quality"] == 1.0
  assert results.models["retrained"].metrics["privleak"] == 0.0
  assert results.models["retrained"].metrics["mia/reference"] == 0.5
  d = results.deletion
  assert d.num_forget_examples == 5 * d.num_forget_units  # 5 pairs each
  assert "test ROUGE-L" in tasks.for_results(results).table(results)
  scores, task = score_files.load(os.path.join(workdir, "scores.npz"))
  assert task == "generation"
  df = scores["original"]["df"]
  n = 5 * d.num_forget_units
  for key in ("loss", "p_answer", "min_k", "truth_ratio", "rougeL_recall"):
    assert df[key].shape == (n,) and np.isfinite(df[key]).all()


def test_generation_runs_end_to_end(tmp_path, tiny_config, data_dir):
  # NPO reads the sequence view (summed answer NLLs against the original).
  c = _config(tiny_config, data_dir, "npo")
  _check(run_lib.run(c, str(tmp_path)), "npo", str(tmp_path))


def test_language_model_methods_run(tmp_path, tiny_config, data_dir):
  # One workdir: the original and retrained models are trained once.
  assert LANGUAGE_MODEL == ["idkdpo", "rmu", "simnpo"]
  for method in LANGUAGE_MODEL:
    c = _config(tiny_config, data_dir, method)
    _check(run_lib.run(c, str(tmp_path)), method, str(tmp_path))


# The SAMSum stand-in runs end to end with T5 below (and with every method
# in the slow suite).
@pytest.mark.parametrize("dataset", ["biographies"])
def test_the_celeb_profile_stand_in_runs(tmp_path, tiny_config, data_dir,
                                         dataset):
  c = _config(tiny_config, data_dir, "neggrad_plus")
  c.data.name = dataset
  c.data.prompt_length = 48
  results = run_lib.run(c, str(tmp_path))
  m = results.models["neggrad_plus"].metrics
  assert 0 <= m["df/rougeL_recall"] <= 100
  assert np.isnan(m["df/truth_ratio"])  # no perturbed answers
  assert np.isnan(m["forget_quality"])
  assert results.deletion.num_forget_examples == (
      results.deletion.num_forget_units)


@pytest.mark.slow
@pytest.mark.parametrize("dataset,arch", [
    ("authors", "llama"), ("dialogues", "llama"), ("biographies", "llama"),
    ("dialogues", "t5")])
def test_every_method_runs_on_each_generation_task(tmp_path, tiny_config,
                                                   data_dir, dataset, arch):
  for method in GENERAL + LANGUAGE_MODEL:
    if arch == "t5" and method == "rmu":
      continue  # reads a decoder-only model's states (refused)
    c = _config(tiny_config, data_dir, method)
    c.data.name, c.model.arch = dataset, arch
    c.data.prompt_length = 48
    # One workdir: the original and retrained models are trained once.
    results = run_lib.run(c, str(tmp_path))
    if dataset == "authors":
      _check(results, method, str(tmp_path))
    else:
      m = results.models[method].metrics
      assert 0 <= m["df/rougeL_recall"] <= 100, method


@pytest.mark.parametrize("arch,dataset", [("clip", "authors"),
                                          ("llama", "reviews")])
def test_model_and_task_must_match(tmp_path, tiny_config, data_dir, arch,
                                   dataset):
  c = _config(tiny_config, data_dir, "finetune")
  c.model.arch, c.data.name = arch, dataset
  with pytest.raises(errors.ConfigError, match="language model"):
    run_lib.run(c, str(tmp_path))
  assert not os.path.exists(tmp_path / "original")


def test_mmul_is_refused(tmp_path, tiny_config, data_dir):
  c = _config(tiny_config, data_dir, "mmul")
  with pytest.raises(errors.ConfigError, match="needs two modalities"):
    run_lib.run(c, str(tmp_path))


LLAMA_LM = os.path.join(os.path.dirname(__file__), "fixtures", "llama_lm")


def test_generation_starts_from_a_llama_checkpoint(tmp_path, tiny_config,
                                                   data_dir):
  """A Hugging Face Llama directory (config.json, safetensors and its
  tokenizer.json, whose padding is its end of text) sizes the model, is
  where the original and retrained models start, and gives the
  tokenizer; keys that differ from it are named first."""
  from mmul_jax import experiment
  from mmul_jax.pretrained import llama_weights
  c = _config(tiny_config, data_dir, "finetune")
  c.model.pretrained = LLAMA_LM
  c.model.vocab_size = 300
  with pytest.raises(errors.ConfigError, match="model.vocab_size = .* but "
                     "the checkpoint has 256"):
    run_lib.run(c, str(tmp_path))
  c.update_from_flattened_dict(
      {f"model.{k}": v for k, v in llama_weights.model_keys(LLAMA_LM).items()})
  exp = experiment.setup(c, str(tmp_path / "setup"))
  assert exp.model.cfg.hidden_size == 32  # the checkpoint's, not text_width
  start = experiment.initial_params(exp, 0)
  _, want = llama_weights.load(LLAMA_LM)
  for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(want)):
    np.testing.assert_array_equal(a, b)
  _check(run_lib.run(c, str(tmp_path)), "finetune", str(tmp_path))


@pytest.mark.slow
def test_shadow_models_audit_generation(tmp_path, tiny_config, data_dir):
  """K language models per kind under vmap: every generation
  representation is audited, and retraining audited against itself is
  indistinguishable (U-LiRA AUC 0.5 by construction)."""
  from mmul_jax.unlearn import shadow
  c = _config(tiny_config, data_dir, "npo")
  c.train.num_steps = 4
  c.unlearn.num_steps = 2
  c.shadow.num_models = 3
  c.shadow.methods = ("npo", "retrain")
  c.tensorboard = False
  record = shadow.run(c, str(tmp_path))
  audit = record["audit"]
  reps = {r.name for r in tasks.get("generation").representations}
  assert reps <= set(audit["npo"]) and reps <= set(audit["original"])
  for rep in reps:
    assert audit["retrain"][rep]["ulira"]["auc"] == 0.5, rep
    assert 0 <= audit["npo"][rep]["ulira"]["auc"] <= 1, rep


def test_an_encoder_decoder_summarises_the_samsum_stand_in(
    tmp_path, tiny_config, data_dir):
  """`model.arch = "t5"` (flan-t5's layout) through the loop: the prompt
  encoded, greedy summaries from the cached seq2seq decoder, NPO."""
  c = _config(tiny_config, data_dir, "npo")
  c.data.name = "dialogues"
  c.data.prompt_length = 48
  c.model.arch = "t5"
  results = run_lib.run(c, str(tmp_path))
  m = results.models["npo"].metrics
  assert 0 <= m["test/rougeL_recall"] <= 100
  assert 0 < m["df/p_answer"] <= 1
  assert np.isnan(m["df/verbmem"])  # no continuation of an answer


def test_a_t5_checkpoint_sizes_and_starts_the_model():
  from mmul_jax import models
  from mmul_jax.pretrained import t5_weights
  path = os.path.join(os.path.dirname(__file__), "fixtures", "t5_golden",
                      "flan")
  model = models.build({"arch": "t5", "pretrained": path},
                       generation=True)
  assert model.cfg == t5_weights.model_config(path)
  _, want = t5_weights.load(path)
  params = t5_weights.load_towers(
      path, {"params": jax.tree.map(np.zeros_like, want["params"])}, {})
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(want)):
    np.testing.assert_array_equal(a, b)

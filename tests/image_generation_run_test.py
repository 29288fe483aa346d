"""The image-conditioned generation task kind end to end through
`unlearn.run` on a tiny LLaVA-layout model over the embedded CLEAR
stand-in: metrics per question type, the scores file and the table with
`mmul_gen`; every other method that runs on it (slow); the model-task
pairing refused before any compute."""

import os

import jax
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import methods
from mmul_jax import tasks
from mmul_jax.data.generated import persons
from mmul_jax.evaluation import score_files
from mmul_jax.unlearn import run as run_lib

KINDS = ("name", "image", "both", "general")
# Every method that runs here but MMUL's two retrieval forms.
RUNS_HERE = sorted(n for n, m in methods.METHODS.items()
                   if m.runs_on("image_generation")
                   and n not in ("mmul", "mmul_plus", "retrain"))


def _config(tiny_config, data_dir, method):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "persons"
  c.data.num_train, c.data.num_test = 40, 10
  c.data.image_size = c.model.image_size = 16
  c.data.prompt_length, c.data.answer_length = 20, 14
  c.model.arch = "llava"
  c.model.patch_size = 8
  c.model.kv_heads = 2
  c.method.name = method
  c.method.randlabel.target = "answers"
  c.method.salun.target = "answers"
  return c


def _check(results, method, workdir):
  assert set(results.models) == {"original", "retrained", method}
  assert results.task == "image_generation"
  for m in results.models.values():
    for split in ("df", "dr", "test"):
      for kind in KINDS:
        assert 0 <= m.metrics[f"{split}/{kind}/rougeL_recall"] <= 100
        assert 0 <= m.metrics[f"{split}/{kind}/mc_accuracy"] <= 100
      assert m.metrics[f"{split}/truth_ratio"] > 0
      assert 0 < m.metrics[f"{split}/p_normalised"] <= 1
    assert 0 <= m.metrics["model_utility"] <= 1
    assert 0 <= m.metrics["forget_quality"] <= 1
    assert 0 <= m.metrics["mia/min_k"] <= 1
    for kind in KINDS:
      assert 0 <= m.metrics[f"auc_by_type/{kind}/mean"] <= 1
  assert results.models["retrained"].metrics["forget_quality"] == 1.0
  d = results.deletion
  n = persons.QUESTIONS_PER_PERSON * d.num_forget_units
  assert d.num_forget_examples == n
  assert "Df image" in tasks.for_results(results).table(results)
  scores, task = score_files.load(os.path.join(workdir, "scores.npz"))
  assert task == "image_generation"
  for key in ("loss", "p_answer", "min_k", "truth_ratio"):
    df = scores["original"]["df"][key]
    assert df.shape == (n,) and np.isfinite(df).all(), key


def test_image_generation_runs_end_to_end(tmp_path, tiny_config, data_dir):
  c = _config(tiny_config, data_dir, "mmul_gen")
  _check(run_lib.run(c, str(tmp_path)), "mmul_gen", str(tmp_path))


@pytest.mark.slow
def test_every_method_runs_on_image_generation(tmp_path, tiny_config,
                                               data_dir):
  assert {"mmul_gen", "npo", "simnpo", "idkdpo", "rmu", "neggrad_plus",
          "randlabel", "salun"} <= set(RUNS_HERE)
  for method in RUNS_HERE:
    if method == "mmul_gen":
      continue  # the default suite's
    # One workdir: the original and retrained models are trained once.
    c = _config(tiny_config, data_dir, method)
    _check(run_lib.run(c, str(tmp_path)), method, str(tmp_path))


@pytest.mark.parametrize("arch,dataset,match", [
    ("llama", "persons", "'llama' cannot run persons"),
    ("llava", "authors", "'llava' cannot run authors"),
    ("clip", "persons", "image-conditioned language model")])
def test_model_and_task_must_match(tmp_path, tiny_config, data_dir, arch,
                                   dataset, match):
  c = _config(tiny_config, data_dir, "finetune")
  c.model.arch, c.data.name = arch, dataset
  with pytest.raises(errors.ConfigError, match=match):
    run_lib.run(c, str(tmp_path))
  assert not os.path.exists(tmp_path / "original")


def test_mmul_points_to_mmul_gen(tmp_path, tiny_config, data_dir):
  c = _config(tiny_config, data_dir, "mmul")
  with pytest.raises(errors.ConfigError, match="mmul_gen"):
    run_lib.run(c, str(tmp_path))


LLAVA_LM = os.path.join(os.path.dirname(__file__), "fixtures", "llava_lm")


def _llava_config(tiny_config, data_dir):
  from mmul_jax.pretrained import llava_weights
  c = _config(tiny_config, data_dir, "mmul_gen")
  c.model.pretrained = LLAVA_LM
  c.update_from_flattened_dict(
      {f"model.{k}": v for k, v in llava_weights.model_keys(LLAVA_LM).items()})
  c.data.prompt_template = "{image} question : {question} answer :"
  c.data.prompt_length = 28
  return c


def test_image_generation_starts_from_a_llava_checkpoint(tmp_path,
                                                         tiny_config,
                                                         data_dir):
  """A Hugging Face LLaVA directory sizes the model (CLIP's tower, image
  tokens at the prompt's placeholders), is where the original and
  retrained models start, and gives the tokenizer with its `<image>`;
  the prompt template must place the image, the keys that differ from the
  checkpoint are named first, and prompts carry the image's placeholders
  exactly in the rows with an image."""
  from mmul_jax import experiment
  from mmul_jax.pretrained import llava_weights
  c = _config(tiny_config, data_dir, "mmul_gen")
  c.model.pretrained = LLAVA_LM
  with pytest.raises(errors.ConfigError, match="model.vocab_size = .* but "
                     "the checkpoint has 243"):
    run_lib.run(c, str(tmp_path))
  c.update_from_flattened_dict(
      {f"model.{k}": v for k, v in llava_weights.model_keys(LLAVA_LM).items()})
  with pytest.raises(errors.ConfigError, match="has no {image}"):
    run_lib.run(c, str(tmp_path))
  assert not os.path.exists(tmp_path / "original")
  c.data.prompt_template = "{image} question : {question} answer :"
  c.data.prompt_length = 28
  exp = experiment.setup(c, str(tmp_path / "setup"))
  assert exp.model.vision == "clip" and exp.model.num_image_tokens == 4
  start = experiment.initial_params(exp, 0)
  _, want = llava_weights.load(LLAVA_LM)
  for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(want)):
    np.testing.assert_array_equal(a, b)
  df = exp.eval_sets["df"]
  placeholders = (df.prompt == exp.model.image_token_id).sum(1)
  np.testing.assert_array_equal(placeholders, 4 * (df.image_row >= 0))
  assert (df.image_row < 0).any() and (df.image_row >= 0).any()
  assert c.to_dict() == _llava_config(tiny_config, data_dir).to_dict()


@pytest.mark.slow
def test_a_run_from_a_llava_checkpoint_goes_end_to_end(tmp_path,
                                                       tiny_config, data_dir):
  c = _llava_config(tiny_config, data_dir)
  _check(run_lib.run(c, str(tmp_path)), "mmul_gen", str(tmp_path))


def test_a_missing_original_checkpoint_says_what_to_do(tmp_path, tiny_config,
                                                       data_dir):
  c = _config(tiny_config, data_dir, "mmul_gen")
  c.model.original = str(tmp_path / "absent")
  with pytest.raises(errors.CheckpointError,
                     match="absent does not exist. Save a checkpoint "
                     "fine-tuned on the dataset there"):
    run_lib.run(c, str(tmp_path / "run"))

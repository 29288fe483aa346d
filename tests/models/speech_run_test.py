"""wav2vec 2.0 / HuBERT through the whole loop: `model.arch = "hubert"`
sized by the tiny checkpoint of tests/fixtures/speech_golden (as a
pretrained `HubertModel`: a fresh head) on the embedded keyword-spotting
stand-in (tone_commands); refusals before any compute;
configs/hubert_speech_commands.py without its backbone (exit 2) and on the
fake Speech Commands download. The whole runs are in the slow suite."""

import json
import os

import numpy as np
import pytest
import script_checks

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import speech_weights
from mmul_jax.unlearn import run as run_lib

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")
HUBERT = os.path.join(FIXTURES, "speech_golden", "hubert")


def _config(tiny_config, data_dir, path=HUBERT, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "tone_commands"
  c.model.arch = "hubert"
  c.model.pretrained = path
  c.method.name = "neggrad"
  c.update_from_flattened_dict(changes)
  return c


def test_refusals_before_any_compute(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"data.name": "shapes_cifar"})
  with pytest.raises(errors.ConfigError, match="'hubert' is a speech "
                     "classifier"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, **{"model.pretrained": ""})
  with pytest.raises(errors.ConfigError, match="sized by its checkpoint"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, **{"model.arch": "wav2vec2"})
  with pytest.raises(errors.ConfigError, match="is a hubert checkpoint"):
    experiment.setup(c, str(tmp_path / "a"))
  # The fine-tuned 5-way classifier is not an original for 8 keywords.
  c = _config(tiny_config, data_dir, **{"model.original": HUBERT})
  with pytest.raises(errors.ConfigError, match="without the task's head"):
    experiment.setup(c, str(tmp_path / "b"))


@pytest.mark.slow  # about a minute: compiling the speech model's passes
def test_unlearning_runs_on_hubert(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"train.num_steps": 6,
                                        "unlearn.num_steps": 3})
  exp = experiment.setup(c, str(tmp_path / "run"))
  assert type(exp.model).__name__ == "SpeechClassifier"
  params = experiment.initial_params(exp, 0)["params"]
  state = speech_weights.read_state(HUBERT, "hubert")
  np.testing.assert_array_equal(
      params["hubert"]["encoder"]["pos_conv_embed"]["conv"]["weight_v"],
      state["hubert.encoder.pos_conv_embed.conv.weight_v"])
  results = run_lib.run(c, str(tmp_path / "run"))
  assert set(results.models) == {"original", "retrained", "neggrad"}
  for m in results.models.values():
    assert 0 <= m.metrics["test/accuracy"] <= 100


def _recipe(tmp_path, *flags, backbone="hubert-base-ls960", timeout=120):
  return script_checks.recipe_run(
      tmp_path, "hubert_speech_commands", "speech_commands", *flags,
      option=f"backbone={backbone}", timeout=timeout)


def test_the_recipe_without_its_backbone_says_how_to_get_it(tmp_path):
  r = _recipe(tmp_path, "--config.model.pretrained="
              + str(tmp_path / "wav2vec2-base"), backbone="wav2vec2-base")
  assert r.returncode == 2, r.stderr[-2000:]
  assert "huggingface-cli download facebook/wav2vec2-base" in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: the speech model's passes compile
def test_the_recipe_runs_on_the_fake_download(tmp_path):
  r = _recipe(
      tmp_path, f"--config.model.pretrained={HUBERT}",
      "--config.data.audio_samples=4000",
      *script_checks.QUICK_RUN,
      timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "hubert"
  assert set(results["models"]) == {"original", "retrained", "randlabel"}

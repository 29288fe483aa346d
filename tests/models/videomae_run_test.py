"""VideoMAE through the whole loop: `model.arch = "videomae"` sized by
the tiny checkpoint of tests/fixtures/videomae_golden (its 6-way head for
other classes: a fresh head) on the embedded video stand-in
(moving_shapes) at its 16-pixel frames; refusals before any compute;
configs/videomae_ucf101.py without its backbone (exit 2) and on the fake
UCF101 download. The whole runs are in the slow suite."""

import json
import os

import pytest
import script_checks

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.unlearn import run as run_lib

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures")
VIDEOMAE = os.path.join(FIXTURES, "videomae_golden", "mean")


def _config(tiny_config, data_dir, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "moving_shapes"
  c.data.image_size = c.model.image_size = 16
  c.data.num_frames = 4
  c.model.arch = "videomae"
  c.model.pretrained = VIDEOMAE
  c.method.name = "neggrad"
  c.update_from_flattened_dict(changes)
  return c


def test_refusals_before_any_compute(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"data.name": "tone_commands"})
  with pytest.raises(errors.ConfigError, match="'videomae' is a video "
                     "classifier"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, **{"model.pretrained": ""})
  with pytest.raises(errors.ConfigError, match="sized by its checkpoint"):
    config_schema.validate(c)
  c = _config(tiny_config, data_dir, **{"data.image_size": 32,
                                        "model.image_size": 32})
  with pytest.raises(errors.ConfigError, match="reads 16-pixel frames"):
    experiment.setup(c, str(tmp_path / "a"))


@pytest.mark.slow  # about a minute: compiling VideoMAE's passes
def test_unlearning_runs_on_videomae(tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"train.num_steps": 6,
                                        "unlearn.num_steps": 3})
  results = run_lib.run(c, str(tmp_path / "run"))
  assert set(results.models) == {"original", "retrained", "neggrad"}
  for m in results.models.values():
    assert 0 <= m.metrics["test/accuracy"] <= 100


def _recipe(tmp_path, *flags, backbone="videomae-base", timeout=120):
  return script_checks.recipe_run(tmp_path, "videomae_ucf101", "ucf101", *flags,
                                  option=f"backbone={backbone}",
                                  timeout=timeout)


def test_the_recipe_without_its_backbone_says_how_to_get_it(tmp_path):
  r = _recipe(tmp_path, "--config.model.pretrained="
              + str(tmp_path / "videomae-large"), backbone="videomae-large")
  assert r.returncode == 2, r.stderr[-2000:]
  assert "huggingface-cli download MCG-NJU/videomae-large" in r.stderr
  assert not (tmp_path / "run" / "original").exists()


@pytest.mark.slow  # about two minutes: VideoMAE's passes compile
def test_the_recipe_runs_on_the_fake_download(tmp_path):
  r = _recipe(
      tmp_path, f"--config.model.pretrained={VIDEOMAE}",
      "--config.data.image_size=16", "--config.model.image_size=16",
      "--config.data.num_frames=4",
      *script_checks.QUICK_RUN,
      timeout=900)
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["arch"] == "videomae"
  assert set(results["models"]) == {"original", "retrained", "randlabel"}

"""ViLT through the whole loop: `model.arch = "vilt"` with the tiny ViLT
classification checkpoints of tests/fixtures/vilt_golden (their tokenizer
too) trains, unlearns and evaluates on the embedded NLVR2-style dataset;
its config and the dataset's layout (images per example, classes) are
checked against the checkpoint before any compute. The whole run is in the
slow suite; the default suite checks the loaded parameters and the
refusals."""

import os

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import vilt_weights
from mmul_jax.unlearn import run as run_lib

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "fixtures", "vilt_golden")
NLVR2 = os.path.join(GOLDEN, "nlvr2", "hf")
VE = os.path.join(GOLDEN, "ve", "hf")


def _config(tiny_config, data_dir, checkpoint=NLVR2, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "shapes_nlvr2"
  c.model.arch = "vilt"
  c.model.pretrained = checkpoint
  c.model.update(vilt_weights.model_keys(checkpoint))
  c.model.context_length = 12
  c.data.mean, c.data.std = (0.5,) * 3, (0.5,) * 3  # ViLT's
  c.update_from_flattened_dict(changes)
  return c


@pytest.mark.slow  # about a minute: compiling ViLT's passes
def test_mmul_runs_on_vilt(tmp_path, tiny_config, data_dir):
  results = run_lib.run(_config(tiny_config, data_dir), str(tmp_path))
  assert set(results.models) == {"original", "retrained", "mmul"}
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/accuracy"] <= 100
    assert 0 <= m.metrics["auc/p_true/mean"] <= 1
  model = results.config["model"]
  assert model["arch"] == "vilt" and model["pretrained"] == NLVR2


def test_the_original_starts_from_the_checkpoint(tiny_config, data_dir,
                                                 tmp_path):
  exp = experiment.setup(_config(tiny_config, data_dir), str(tmp_path))
  params = experiment.initial_params(exp, 0)["params"]
  state = clip_weights.read_state_dict(NLVR2)
  np.testing.assert_array_equal(params["classifier_3"]["kernel"],
                                state["classifier.3.weight"].T)
  np.testing.assert_array_equal(
      params["vilt"]["encoder"]["layer_1"]["attention"]["attention"]["key"]
      ["kernel"], state["vilt.encoder.layer.1.attention.attention.key.weight"].T)
  np.testing.assert_array_equal(
      params["vilt"]["embeddings"]["token_type_embeddings"]["embedding"],
      state["vilt.embeddings.token_type_embeddings.weight"])


def test_a_config_that_differs_from_the_checkpoint_is_refused(
    tiny_config, data_dir, tmp_path):
  c = _config(tiny_config, data_dir, **{"model.fusion_layers": 3})
  with pytest.raises(errors.ConfigError,
                     match="model.fusion_layers = 3 but the checkpoint has 2"):
    experiment.setup(c, str(tmp_path))


def test_a_checkpoint_of_another_task_layout_is_refused(
    tiny_config, data_dir, tmp_path):
  """The one-image, three-class checkpoint on two-image NLVR2."""
  c = _config(tiny_config, data_dir, VE)
  with pytest.raises(errors.ConfigError,
                     match=r"1 image\(s\) into 3 classes; this dataset's "
                     r"have 2 image\(s\) and 2 classes"):
    experiment.setup(c, str(tmp_path))


def test_vilt_is_for_classification(tiny_config, data_dir):
  c = _config(tiny_config, data_dir, **{"data.name": "shapes_captions"})
  with pytest.raises(errors.ConfigError, match="image\\(s\\)-and-text "
                     "classifier; shapes_captions is a retrieval dataset"):
    config_schema.validate(c)

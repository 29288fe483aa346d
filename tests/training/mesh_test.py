"""Training and unlearning steps give the same losses, gradients and
parameters on 1 and on 8 fake CPU devices, replicated or FSDP, and compile
once on each.

The check runs in a subprocess, so only it sees 8 CPU devices."""

import os

import numpy as np
import pytest

CHECK = os.path.join(os.path.dirname(__file__), "mesh_check.py")


@pytest.fixture(scope="module")
def values(json_script):
  return json_script(CHECK)


def _agree(values, case, layout):
  assert values[f"{case}_traces_1"] == 1
  assert values[f"{case}_traces_{layout}"] == 1
  for one, eight in zip(values[f"{case}_metrics_1"],
                        values[f"{case}_metrics_{layout}"]):
    assert eight["loss"] == pytest.approx(one["loss"], rel=1e-5)
    assert eight["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-5)
  # Three SGD steps: parameters differ by float noise only.
  assert (values[f"{case}_max_param_diff_{layout}"]
          < 1e-4 * values[f"{case}_max_param_move"])


def test_training_step_agrees_on_one_and_eight_devices(json_script):
  """The default suite's share (8 fake devices take minutes on 2 cores):
  the training step, replicated and FSDP; the slow suite adds MMUL's
  step and vmapped models."""
  values = json_script(CHECK, "train")
  assert not any(k.startswith(("mmul", "vmap")) for k in values)
  for layout in ("8", "fsdp"):
    _agree(values, "train", layout)
  assert values["train_split_8"] == 0
  assert 0 < values["train_split_fsdp"] < values["train_num_params"]


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["8", "fsdp"])
@pytest.mark.parametrize("case", ["train", "mmul"])
def test_one_and_eight_devices_agree(values, case, layout):
  _agree(values, case, layout)


@pytest.mark.slow
def test_fsdp_splits_the_large_arrays_only(values):
  assert values["train_split_8"] == 0
  assert 0 < values["train_split_fsdp"] < values["train_num_params"]


@pytest.mark.slow
def test_vmapped_models_split_over_eight_devices(values):
  """K = 8 models under vmap, one per device: the same losses and
  parameters as all 8 on one device, every array split on the model
  axis, one trace each."""
  assert values["vmap_traces"] == [1, 1]
  one, eight = values["vmap_losses"]
  np.testing.assert_allclose(eight, one, rtol=1e-5)
  assert values["vmap_split_8"]
  assert values["vmap_max_param_diff"] < 1e-4 * values["vmap_max_param_move"]

"""The language models with FSDP-split parameters on 8 fake CPU devices
give the one-device NPO step (loss and updated parameters) and the same
cached greedy tokens. The check runs in a subprocess, so only it sees 8
devices."""

import os

import pytest

CHECK = os.path.join(os.path.dirname(__file__), "decoder_sharding_check.py")


@pytest.fixture(scope="module")
def values(json_script):
  return json_script(CHECK)  # about 25 s: once for both models


@pytest.mark.parametrize("name", ["llama", "t5"])
def test_fsdp_split_decoders_agree_with_one_device(values, name):
  assert values["devices"] == 8
  v = values[name]
  assert v["loss_8"] == pytest.approx(v["loss_1"], rel=1e-5)
  assert v["max_param_diff"] < 1e-4 * v["max_param_move"]
  assert 0 < v["split_arrays"] < v["num_arrays"]  # the large ones only
  assert v["same_tokens"]

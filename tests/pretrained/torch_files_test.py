"""The torch-file reader on crafted files: every tensor is checked against
its storage before anything is read, and imported weights must be finite
floating point."""

import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import pretrained

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_zip  # noqa: E402

STORAGE = np.arange(4, dtype=np.float32)


def crafted(path, offset, size, stride, storage=STORAGE):
  torch_zip.write(path, {"w": torch_zip.Tensor("x", storage, offset, size,
                                               stride)}, {"x": storage})
  return str(path)


def test_well_formed_views_read_like_numpy(tmp_path):
  storage = np.arange(24, dtype=np.float32)
  full = storage.reshape(4, 6)
  path = tmp_path / "ok.bin"
  torch_zip.write(path, {
      "plain": torch_zip.Tensor("x", storage, 0, (4, 6), (6, 1)),
      "t": torch_zip.Tensor("x", storage, 1, (3, 4), (1, 6)),  # view
      "scalar": torch_zip.Tensor("x", storage, 23, (), ()),
      "empty": torch_zip.Tensor("x", storage, 0, (0, 3), (3, 1))},
      {"x": storage})
  read = pretrained.load_torch_file(str(path))
  np.testing.assert_array_equal(read["plain"], full)
  np.testing.assert_array_equal(read["t"], full[:, 1:4].T)
  assert read["scalar"] == 23 and read["empty"].shape == (0, 3)


@pytest.mark.parametrize("offset,size,stride,message", [
    (0, (5,), (1,), "addresses element 4 of a storage of 4"),
    (3, (2,), (1,), "addresses element 4"),
    (0, (2, 2), (3, 1), "addresses element 4"),
    (4, (), (), "addresses element 4"),
    (-1, (2,), (1,), "offset must be non-negative"),
    (0, (2,), (-1,), "stride must be non-negative"),
    (0, (-2,), (1,), "size must be non-negative"),
    (0, (2, 2), (1,), "lengths differ"),
    (0, (2.5,), (1,), "size must be non-negative integers"),
])
def test_tensors_outside_their_storage_are_refused(tmp_path, offset, size,
                                                   stride, message):
  path = crafted(tmp_path / "bad.bin", offset, size, stride)
  with pytest.raises(errors.CheckpointError, match=message) as e:
    pretrained.load_torch_file(path)
  assert str(e.value).startswith(path)


def test_a_huge_tensor_is_refused_without_reading(tmp_path):
  # Before the check this read 4 GB past a 16-byte storage and segfaulted:
  # run it in a child so a regression cannot take the test process down.
  path = crafted(tmp_path / "huge.bin", 0, (10 ** 9,), (1,))
  code = ("import sys; from mmul_jax import errors, pretrained\n"
          "try:\n  pretrained.load_torch_file(sys.argv[1])\n"
          "except errors.CheckpointError as e:\n  print(e); sys.exit(3)\n")
  r = subprocess.run([sys.executable, "-c", code, path], capture_output=True,
                     text=True, timeout=120)
  assert r.returncode == 3, (r.returncode, r.stderr[-2000:])
  assert "addresses element 999999999 of a storage of 4" in r.stdout


def test_a_storage_shorter_than_declared_is_refused(tmp_path):
  path = tmp_path / "short.bin"
  torch_zip.write(path, {"w": np.zeros(8, np.float32)})
  import zipfile
  with zipfile.ZipFile(path) as z:
    files = {n: z.read(n) for n in z.namelist()}
  files["archive/data/s0"] = files["archive/data/s0"][:16]
  with zipfile.ZipFile(path, "w") as z:
    for n, b in files.items():
      z.writestr(n, b)
  with pytest.raises(errors.CheckpointError, match="truncated"):
    pretrained.load_torch_file(str(path))


@pytest.mark.parametrize("value,message", [
    (np.arange(4, dtype=np.int32), "dtype int32, but weights are floating"),
    (np.ones(4, np.bool_), "dtype bool"),
    (np.array([0.0, np.nan, 1.0, np.inf], np.float32), "2 NaN/inf"),
])
def test_non_float_and_non_finite_weights_are_refused_by_name(value,
                                                              message):
  with pytest.raises(errors.CheckpointError,
                     match=f"tensor 'ln_final.weight' .*{message}"):
    pretrained.check_weight(value, "ln_final.weight", "ckpt")


def test_openai_checkpoint_missing_a_tensor_names_it(tmp_path):
  import safetensors.numpy
  path = str(tmp_path / "open_clip_model.safetensors")
  safetensors.numpy.save_file(
      {"visual.conv1.weight": np.zeros((8, 3, 4, 4), np.float32)}, path)
  with pytest.raises(errors.CheckpointError,
                     match="no tensor 'visual.positional_embedding'"):
    pretrained.check_model_config(path, ml_collections.ConfigDict())

"""benchmarks/gpu_check.py's arithmetic: the peak by device name and the
batch that fills the device (the GPU run itself needs a GPU)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "benchmarks"))
import gpu_check  # noqa: E402


@pytest.mark.parametrize("kind,peak", [
    ("NVIDIA H200", 989e12), ("NVIDIA H100 PCIe", 756e12),
    ("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA A100-SXM4-80GB", 312e12),
    ("NVIDIA A10G", 70e12), ("NVIDIA L4", 121e12), ("NVIDIA L40S", 362e12),
    ("TPU v5 lite", 197e12), ("TPU v5p", 459e12), ("cpu", None)])
def test_peak_by_device_name(kind, peak):
  assert gpu_check.peak_flops(kind) == peak


def test_batch_fills_the_budget_and_no_more():
  gib = 2 ** 30
  # 1 GiB fixed, 0.5 GiB of temporaries at Df 8: 64 MiB per Df example.
  df = gpu_check.batch_for(100 * gib, 0.7, 1 * gib, 0.5 * gib, 8)
  assert df % 8 == 0
  assert 1 * gib + df * (gib / 16) <= 70 * gib
  assert 1 * gib + (df + 8) * (gib / 16) > 70 * gib
  assert gpu_check.batch_for(gib, 0.7, gib, gib, 8) == 8  # floor

"""Shared fixtures: a tiny model and a tiny prepared dataset."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

# The tests' models are tiny, so compiling dominates their time: XLA's CPU
# backend compiles them without its expensive LLVM passes (a quarter off a
# whole run). Checks of values are unaffected (the same arithmetic); the
# scripts and benchmarks a user runs compile as usual. Set before JAX
# starts its backend; the tests' subprocesses (scripts, mesh checks, which
# append their device count) inherit it.
os.environ["XLA_FLAGS"] = " ".join(filter(None, (
    os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0",
    "--xla_llvm_disable_expensive_passes=true")))

import jax  # noqa: E402  (after XLA_FLAGS)
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "configs"))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # script_checks

# A persistent compilation cache for the session, as the scripts use one:
# a run's retrained model then reuses the original's compiled step (a
# quarter of a tiny run's CPU time). Set before anything compiles (JAX
# decides once whether a process uses the cache); empty at the start, so
# the suite does not depend on an earlier one.
_XLA_CACHE = tempfile.mkdtemp(prefix="mmul_jax_test_xla_")
atexit.register(shutil.rmtree, _XLA_CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _XLA_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.fixture(scope="session")
def tiny_config():
  import tiny  # configs/tiny.py
  return tiny.get_config()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def tiny_builder(data_dir, tiny_config):
  from mmul_jax.data.generated import shapes_tfds
  d = tiny_config.data
  return shapes_tfds.prepare(
      data_dir, num_train=d.num_train, num_test=d.num_test,
      captions_per_image=d.captions_per_image, image_size=d.image_size,
      seed=d.seed)


@pytest.fixture(scope="session")
def json_script():
  """Runs a check script (with arguments) in its own process (e.g. with
  fake devices) and returns the JSON dict it prints last."""
  def run(path, *args, timeout=600):
    proc = subprocess.run([sys.executable, path, *args], capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
  return run

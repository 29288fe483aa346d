"""`import mmul_jax.losses` costs jax, flax, optax and chex only: other JAX
projects import the losses without the data and evaluation stacks."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs the python examples of README and the losses page after importing
# only the core, and prints the modules they loaded beyond it.
_PROBE = textwrap.dedent("""
    import re, sys
    import chex, flax, jax, numpy, optax
    before = set(sys.modules)
    import mmul_jax.gradient_transforms, mmul_jax.losses
    for path in sys.argv[1:]:
      for block in re.findall(r"```python\\n(.*?)```", open(path).read(),
                              re.S):
        exec(compile(block, path, "exec"), {})
    print(" ".join(sorted(set(sys.modules) - before)))
""")


def _loaded(python):
  proc = subprocess.run(
      [python, "-c", _PROBE, os.path.join(ROOT, "README.md"),
       os.path.join(ROOT, "docs", "losses.md")],
      capture_output=True, text=True, timeout=600, cwd=ROOT,
      env=dict(os.environ, PYTHONPATH=ROOT))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout.split()


# Running the examples compiles, which loads more of jax and the standard
# library; anything else is a dependency the losses should not have.
_CORE = {"mmul_jax", "jax", "jaxlib", "flax", "optax", "chex", "numpy",
         "ml_dtypes", "opt_einsum", "scipy"}


def _beyond_the_core(modules):
  return sorted({m.split(".")[0] for m in modules} - _CORE
                - set(sys.stdlib_module_names))


def test_the_losses_load_nothing_beyond_the_core():
  others = _beyond_the_core(_loaded(sys.executable))
  assert not others, others
  # And the probe can see what a run loads.
  proc = subprocess.run(
      [sys.executable, "-c", "import sys, mmul_jax.experiment; "
       "print('sklearn' in sys.modules and 'grain' in sys.modules)"],
      capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert proc.stdout.strip() == "True", proc.stderr[-3000:]


def test_the_top_level_package_loads_its_parts_on_first_use():
  import mmul_jax  # pylint: disable=import-outside-toplevel
  assert mmul_jax.losses.modality_decoupling
  assert mmul_jax.default_config().method.name == "mmul"
  assert issubclass(mmul_jax.UserError, Exception)
  assert set(mmul_jax.__all__) <= set(dir(mmul_jax))
  with pytest.raises(AttributeError, match="no attribute 'lossess'"):
    mmul_jax.lossess  # pylint: disable=pointless-statement


@pytest.mark.parametrize("module,extra,call", [
    ("rdkit.Chem", "molecules",
     lambda: __import__("mmul_jax.data.graphs.molecules").data.graphs.molecules
     .parse_smiles("CCO")),
    ("optuna", "tune",
     lambda: __import__("mmul_jax.tuning.search_space").tuning.search_space
     .to_optuna({})),
    ("av", "video",
     lambda: __import__("mmul_jax.data.downloaded.signal_real_tfds").data
     .downloaded.signal_real_tfds.decode_clip("x.avi", num_frames=2, frame_size=8)),
])
def test_a_missing_extra_is_one_line_naming_it(monkeypatch, module, extra,
                                               call):
  from mmul_jax import errors  # pylint: disable=import-outside-toplevel
  monkeypatch.setitem(sys.modules, module, None)  # import raises
  with pytest.raises(errors.MissingExtraError,
                     match=re.escape(f"pip install 'mmul_jax[{extra}]'")):
    call()


@pytest.mark.slow
def test_a_venv_with_the_core_alone_runs_the_readme_losses(tmp_path):
  """Installs the core dependencies from the package index (a minute)."""
  venv = tmp_path / "core"
  subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
  python = str(venv / "bin" / "python")
  proc = subprocess.run([python, "-m", "pip", "install", "-q", ROOT],
                        capture_output=True, text=True, timeout=1800)
  assert proc.returncode == 0, proc.stderr[-3000:]
  pip = subprocess.run([python, "-m", "pip", "list", "--format=freeze"],
                       capture_output=True, text=True, check=True).stdout
  installed = {re.split("==", line)[0].lower() for line in pip.split()}
  assert not installed & {"tensorflow-datasets", "grain", "scikit-learn",
                          "rdkit", "optuna", "jraph"}, installed
  assert not _beyond_the_core(_loaded(python))

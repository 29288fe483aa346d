"""Every bad input to the scripts ends in one line on stderr (exit 2) that
names the file, key or value and says what to do; nothing already in the
workdir changes. These fail before any compute; the cases that need a
finished run are in scripts_smoke_test.py, beside its run. Bad values that
reach `config_schema.validate` are tested there in-process
(config_test.py); here, one of them shows the path to the one line."""

import importlib.util
import os
import subprocess
import sys

import pytest

from script_checks import ROOT
from script_checks import assert_one_line
from script_checks import checksums
from script_checks import env

TINY = os.path.join(ROOT, "configs", "tiny.py")


def run_script(script, *args, config=TINY, timeout=300):
  cmd = [sys.executable, os.path.join(ROOT, *script.split("/")), *args]
  if config:
    cmd.insert(2, f"--config={config}")
  return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                        cwd=ROOT, env=env())


def _config_file(tmp_path, body):
  path = tmp_path / "bad_config.py"
  path.write_text(body)
  return str(path)


def _ro_dir(tmp_path):
  """A directory this process cannot write: a read-only tmpfs as root
  (root ignores permissions), else a mode-555 directory."""
  path = tmp_path / "ro"
  path.mkdir()
  if os.geteuid() == 0:
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k",
                        "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
      pytest.skip("cannot mount a read-only filesystem here")
  else:
    path.chmod(0o555)
  return str(path)


# (script, arguments (after --workdir), words the error line must contain).
# Values in {braces} are filled in by the test.
CASES = {
    "stray_argument": ("scripts/unlearn.py", ("extra",),
                       ("unexpected argument(s) extra",)),
    "unknown_key": ("scripts/unlearn.py", ("--config.train.learnin_rate=1",),
                    ("'train.learnin_rate'",
                     "did you mean 'train.learning_rate'")),
    "nan_learning_rate": (
        "scripts/unlearn.py", ("--config.train.learning_rate=nan",),
        ("train.learning_rate = nan is not a finite number",)),
    "benchmark_with_method_name": (
        "scripts/benchmark.py", ("--config.method.name=salun",),
        ("--config.method.name has no effect", "benchmark.methods")),
    "unknown_compared_method": (
        "scripts/compare_methods.py", ("--methods=forgetful",),
        ("unknown method 'forgetful'",)),
    "config_file_raises": (
        "scripts/unlearn.py", (), ("{config}", "line 2 raised "
                                   "ZeroDivisionError")),
    "config_file_import_fails": (
        "scripts/unlearn.py", (), ("{config}", "ModuleNotFoundError",
                                   "nosuchmodule")),
    # config_flags re-raises a ValueError as its own; given through a
    # symlink, with an argument.
    "config_file_raises_value_error": (
        "scripts/unlearn.py", (), ("config file {link}, line 2 raised "
                                   "ValueError: no b16",)),
    "config_file_without_get_config": (
        "scripts/unlearn.py", (), ("config file {config} has no "
                                   "get_config() function",)),
    "config_file_exits": (
        "scripts/unlearn.py", (), ("config file {config}, line 2 exits "
                                   "(sys.exit(0))",)),
    "workdir_is_a_file": ("scripts/unlearn.py", (),
                          ("{workdir}", "is a file")),
    "workdir_read_only": ("scripts/unlearn.py", (), ("{workdir}",)),
    "data_dir_read_only": (
        "scripts/unlearn.py", ("--config.data.data_dir={ro}",),
        ("cannot prepare dataset shapes_captions in data.data_dir {ro}",)),
    "data_dir_is_a_file": (
        "scripts/unlearn.py", ("--config.data.data_dir={file}",),
        ("data.data_dir {file} is a file",)),
    "records_line_not_a_record": (
        "scripts/benchmark.py", (), ("records.jsonl, line 1",
                                     "not a grid record")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_changes_nothing(case, tmp_path, data_dir,
                                                   tiny_builder):
  del tiny_builder  # the dataset is prepared once for the session
  script, args, needles = CASES[case]
  workdir = tmp_path / "wd"
  workdir.mkdir()
  (workdir / "kept.json").write_text('{"earlier": "result"}\n')
  config = TINY
  values = {"file": str(tmp_path / "a_file")}
  (tmp_path / "a_file").write_text("x")
  if case == "config_file_raises":
    config = _config_file(tmp_path, "def get_config():\n  return 1 / 0\n")
  elif case == "config_file_import_fails":
    config = _config_file(tmp_path, "import nosuchmodule\n")
  elif case == "config_file_raises_value_error":
    values["link"] = str(tmp_path / "link.py")
    os.symlink(_config_file(tmp_path, "def get_config(arg):\n  raise "
                            "ValueError('no ' + arg)\n"), values["link"])
    config = values["link"] + ":b16"
  elif case == "config_file_without_get_config":
    config = _config_file(tmp_path, "x = 1\n")
  elif case == "config_file_exits":
    config = _config_file(tmp_path, "import sys\nsys.exit(0)\n")
  elif case == "workdir_is_a_file":
    workdir = tmp_path / "a_file"
  elif case == "workdir_read_only":
    workdir = _ro_dir(tmp_path)
  elif case == "data_dir_read_only":
    values["ro"] = _ro_dir(tmp_path)
  elif case == "records_line_not_a_record":
    (workdir / "records.jsonl").write_text('["a list"]\n{"key": "k"}\n')
  values.update(config=config, workdir=str(workdir))
  before = checksums(workdir) if os.path.isdir(workdir) else None
  try:
    r = run_script(script, f"--workdir={workdir}",
                   f"--config.data.data_dir={data_dir}",
                   *(a.format(**values) for a in args), config=config)
  finally:
    if case.endswith("read_only") and os.geteuid() == 0:
      subprocess.run(["umount", "-l", values.get("ro", str(workdir))],
                     capture_output=True)
  assert_one_line(r, *(n.format(**values) for n in needles))
  if before is not None and case != "workdir_read_only":
    assert checksums(workdir) == before


def test_vs_pytorch_without_torch_says_so_before_the_jax_half():
  try:
    import torch  # noqa: F401
    pytest.skip("torch is installed")
  except ImportError:
    pass
  r = run_script("benchmarks/vs_pytorch.py", config=None, timeout=60)
  assert_one_line(r, "PyTorch", "pip install torch==2.13.0")
  assert "JAX" not in r.stdout


def test_backbone_step_refuses_unknown_models_and_a_missing_torch():
  r = run_script("benchmarks/backbone_step.py", "--models=bert,swin",
                 config=None, timeout=60)
  assert r.returncode == 2 and "unknown model(s) ['swin']" in r.stderr
  if importlib.util.find_spec("torch"):
    return  # the PyTorch side is there: nothing more to refuse
  r = run_script("benchmarks/backbone_step.py", "--models=bert",
                 config=None, timeout=60)
  assert_one_line(r, "torch and transformers", "pip install torch==2.13.0")

"""The code examples of the README and the losses page run as written."""

import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blocks(path):
  text = open(os.path.join(ROOT, path)).read()
  return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_python_examples_run():
  assert _blocks("README.md"), "README.md lost its python example"
  blocks = _blocks("README.md") + _blocks(os.path.join("docs", "losses.md"))
  assert len(blocks) >= 3, "docs/losses.md lost a python example"
  for block in blocks:
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert np.isfinite(float(namespace["loss"]))


def test_readme_test_command_is_what_ci_runs():
  text = open(os.path.join(ROOT, "README.md")).read()
  commands = re.findall(r"```\n(python -m venv .*?)\n```", text)
  assert len(commands) >= 2
  ci = open(os.path.join(ROOT, ".ci", "run")).read()
  assert commands[1] in ci
  assert "scripts/unlearn.py --config=configs/mmul_demo.py" in commands[0]

"""The README's code example runs as written."""

import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_python_examples_run():
  text = open(os.path.join(ROOT, "README.md")).read()
  blocks = re.findall(r"```python\n(.*?)```", text, re.S)
  assert len(blocks) >= 2, "README.md lost a python example"
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

"""The README's code example runs as written."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_python_example_runs():
  text = open(os.path.join(ROOT, "README.md")).read()
  blocks = re.findall(r"```python\n(.*?)```", text, re.S)
  assert blocks, "README.md has no python example"
  namespace = {}
  exec(compile(blocks[0], "README.md", "exec"), namespace)
  assert float(namespace["loss"]) >= 0


def test_readme_test_command_is_what_ci_runs():
  text = open(os.path.join(ROOT, "README.md")).read()
  commands = re.findall(r"```\n(python -m venv .*?)\n```", text)
  assert len(commands) >= 2
  ci = open(os.path.join(ROOT, ".ci", "run")).read()
  assert commands[1] in ci
  assert "scripts/unlearn.py --config=configs/mmul_demo.py" in commands[0]

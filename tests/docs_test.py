"""The documentation site builds strictly (mkdocs.yml): every page in the
nav, every relative link resolving, every docstring the API reference
renders naming only real parameters."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build(root, site):
  return subprocess.run(
      [sys.executable, "-m", "mkdocs", "build", "--strict",
       "-f", os.path.join(root, "mkdocs.yml"), "-d", str(site)],
      capture_output=True, text=True, timeout=600, cwd=root,
      env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))


def test_the_docs_build_strictly(tmp_path):
  proc = _build(ROOT, tmp_path / "site")
  assert proc.returncode == 0, proc.stderr[-3000:]
  api = (tmp_path / "site" / "api" / "index.html").read_text()
  assert "modality_decoupling" in api and "scale_by_sophia" in api


def test_a_broken_link_fails_the_build(tmp_path):
  copy = tmp_path / "repo"
  shutil.copytree(os.path.join(ROOT, "docs"), copy / "docs")
  shutil.copy(os.path.join(ROOT, "mkdocs.yml"), copy / "mkdocs.yml")
  shutil.copytree(os.path.join(ROOT, "mmul_jax"), copy / "mmul_jax")
  with open(copy / "docs" / "demo.md", "a") as f:
    f.write("\nSee [the missing page](missing.md).\n")
  proc = _build(str(copy), tmp_path / "site")
  assert proc.returncode != 0
  assert "missing.md" in proc.stderr

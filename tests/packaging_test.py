"""pyproject.toml's package list is explicit (third_party/ installs inside
the package), so a new subpackage must be added to it, or a wheel install
leaves it out while an editable one hides that."""

import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _listed() -> set[str]:
  with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    return set(tomllib.load(f)["tool"]["setuptools"]["packages"])


def _on_disk() -> set[str]:
  found = set()
  for top, package in (("mmul_jax", "mmul_jax"),
                       ("third_party", "mmul_jax.third_party")):
    for path, dirs, files in os.walk(os.path.join(ROOT, top)):
      dirs[:] = [d for d in dirs if d != "__pycache__"]
      if "__init__.py" in files:
        rel = os.path.relpath(path, os.path.join(ROOT, top))
        found.add(package if rel == "." else
                  package + "." + rel.replace(os.sep, "."))
  return found


def test_every_package_is_listed_in_pyproject():
  assert _on_disk() - _listed() == set()
  assert _listed() - _on_disk() == set()

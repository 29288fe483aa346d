"""The configs reference (docs/configs.md) and the schema do not drift:
every key of `default_config()` has its row, and every row names a key
that exists."""

import os
import re

from mmul_jax import config_schema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _keys(config, prefix=""):
  for key, value in config.items():
    if hasattr(value, "items"):
      yield from _keys(value, f"{prefix}{key}.")
    else:
      yield prefix + key


def documented(text: str) -> set[str]:
  """The keys a table's first cells name: `a.b_c`, then `c2` (a sibling:
  `a.c2`) or `_d` (a variant: `a.b_d`); `method.<name>.*` every method's
  hyperparameters."""
  out = set()
  for line in text.splitlines():
    if not line.startswith("| `"):
      continue
    last = None
    for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
      if name.startswith("_") and last:
        parent, _, leaf = last.rpartition(".")
        name = f"{parent}.{leaf.rsplit('_', 1)[0]}{name}".lstrip(".")
      elif "." not in name and last and "." in last:
        name = f"{last.rpartition('.')[0]}.{name}"
      out.add(name)
      last = name
  return out


def test_every_key_has_a_row_and_every_row_a_key():
  text = open(os.path.join(ROOT, "docs", "configs.md")).read()
  rows = documented(text)
  keys = set(_keys(config_schema.default_config()))
  methods_wide = "method.<name>.*" in rows
  undocumented = sorted(k for k in keys if k not in rows and not (
      methods_wide and k.startswith("method.") and k != "method.name"))
  assert not undocumented, f"add rows to docs/configs.md: {undocumented}"
  unknown = sorted(r for r in rows - keys if r != "method.<name>.*")
  assert not unknown, f"docs/configs.md names no such keys: {unknown}"


def test_the_parser_reads_siblings_and_variants():
  rows = documented("| `model.vision_width`/`_layers` | x |\n"
                    "| `tune.seed`, `startup_trials` | 0, 8 |\n"
                    "| `seed` | 0 |\n")
  assert rows == {"model.vision_width", "model.vision_layers", "tune.seed",
                  "tune.startup_trials", "seed"}

"""The configs reference (docs/configs.md) is generated from the config
tables and cannot drift from them: the file must equal what
scripts/configs_reference.py writes, every key of `default_config()` has
its row, and every row names a key."""

import os
import re
import subprocess
import sys

import ml_collections
import pytest

from mmul_jax import config_keys
from mmul_jax import config_schema
from mmul_jax import errors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _keys(config, prefix=""):
  for key, value in config.items():
    if hasattr(value, "items"):
      yield from _keys(value, f"{prefix}{key}.")
    else:
      yield prefix + key


def test_docs_configs_md_is_the_generated_reference():
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", "configs_reference.py"),
       "--check"], capture_output=True, text=True, timeout=300, cwd=ROOT)
  assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_key_has_a_row_and_every_row_a_key():
  rows = set(re.findall(r"^\| `([^`]+)` \|", config_schema.reference(),
                        re.M))
  keys = set(_keys(config_schema.default_config()))
  wide = {r[:-2] for r in rows if r.endswith(".*")}
  undocumented = sorted(k for k in keys if k not in rows
                        and k.rpartition(".")[0] not in wide)
  assert not undocumented
  assert sorted(r for r in rows - keys if not r.endswith(".*")) == []


def test_a_key_is_one_table_entry():
  """A section's key is its default, its row and its check at once."""
  toy = config_keys.Section("toy", {
      "size": config_keys.Key(3, "how many", config_keys.POSITIVE_INT)})
  config = ml_collections.ConfigDict({"toy": toy.defaults()})
  toy.validate(config)
  assert "| `toy.size` | 3 | how many |" in config_keys.rows(toy)
  config.toy.size = 0
  with pytest.raises(errors.ConfigError,
                     match="toy.size must be a positive integer, got 0"):
    toy.validate(config)


def test_a_registry_choice_is_read_when_checked():
  registry = {"a": 1}
  check = config_keys.one_of(registry)
  with pytest.raises(errors.ConfigError, match=r"'b' is not one of \['a'\]"):
    check("x.name", "b")
  registry["b"] = 2  # registered after the table was built
  check("x.name", "b")

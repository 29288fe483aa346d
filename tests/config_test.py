"""Every config file loads and validates; bad values fail clearly."""

import glob
import importlib.util
import os

import pytest

from mmul_jax import config_schema
from mmul_jax import errors

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                          "configs")


def _load(path):
  spec = importlib.util.spec_from_file_location("cfg", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


@pytest.mark.parametrize("path", sorted(glob.glob(f"{CONFIG_DIR}/*.py")))
def test_every_config_validates(path):
  config_schema.validate(_load(path))


@pytest.mark.parametrize("mutate,message", [
    (lambda c: setattr(c.deletion, "ratio", 0.0), r"in \(0, 100\)"),
    (lambda c: setattr(c.deletion, "ratio", 100.0), r"in \(0, 100\)"),
    (lambda c: setattr(c.method, "name", "forgetful"), "unknown method"),
    (lambda c: setattr(c.unlearn, "schedule", "linear"), "unlearn.schedule"),
    (lambda c: setattr(c.train, "num_steps", 0), "positive integer"),
    (lambda c: setattr(c.method, "md_weight", -1.0), ">= 0"),
    (lambda c: c.method.update(md_weight=0.0, ukr_weight=0.0,
                               mkr_weight=0.0), "all MMUL loss weights"),
    (lambda c: setattr(c.model, "image_size", 64), "data.image_size"),
])
def test_bad_values_are_rejected(mutate, message):
  c = config_schema.default_config()
  mutate(c)
  with pytest.raises(errors.ConfigError, match=message):
    config_schema.validate(c)


def test_unknown_key_is_rejected():
  c = config_schema.default_config()
  c.train.learning_rat = 0.1
  with pytest.raises(errors.ConfigError, match="unknown config key "
                     "'train.learning_rat'"):
    config_schema.validate(c)

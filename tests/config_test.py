"""Every config file loads and validates; bad values fail clearly."""

import glob
import importlib.util
import os

import own_files
import pytest

from mmul_jax import cli
from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax import recipes

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                          "configs")


def _load(path, *arg):
  spec = importlib.util.spec_from_file_location("cfg", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(*arg)


@pytest.mark.parametrize("path", sorted(glob.glob(f"{CONFIG_DIR}/*.py")))
def test_every_config_validates(path, tmp_path):
  c = _load(path)
  if c.data.name == "files":  # your own tables: the test writes some
    c.update_from_flattened_dict(
        own_files.make(str(tmp_path), c.data.files.task, "csv", 2, 1))
  config_schema.validate(c)


@pytest.mark.parametrize("method", ["mmul", *sorted(recipes.METHOD_DEMOS)])
def test_the_demo_runs_every_method_at_its_setting_in_one_workdir(method):
  demo = os.path.join(CONFIG_DIR, "mmul_demo.py")
  c = _load(demo, f"method={method}")
  config_schema.validate(c)
  assert c.method.name == method
  # The original and retrained models are the MMUL demo's.
  assert cli.resolve_workdir(None, c, demo + f":method={method}") == (
      os.path.join("runs", "mmul_demo"))
  for key, value in recipes.METHOD_DEMOS.get(method, {}).items():
    node = c
    for part in key.split("."):
      node = node[part]
    assert node == value, key
  plain = _load(demo)
  assert c.train == plain.train and c.model == plain.model
  assert c.deletion == plain.deletion and c.data == plain.data


@pytest.mark.parametrize("arg,message", [
    ("method=mmul_pluss", r"no setting for method 'mmul_pluss'.*--config"),
    ("methd=scrub", r"'methd=scrub' is not one of method="),
    ("scrub", r"'scrub' is not one of method="),
])
def test_a_bad_demo_argument_is_one_clear_error(arg, message):
  with pytest.raises(errors.ConfigError, match=message):
    _load(os.path.join(CONFIG_DIR, "mmul_demo.py"), arg)


@pytest.mark.parametrize("mutate,message", [
    (lambda c: setattr(c.deletion, "ratio", 0.0), r"in \(0, 100\)"),
    (lambda c: setattr(c.deletion, "ratio", 100.0), r"in \(0, 100\)"),
    (lambda c: setattr(c.method, "name", "forgetful"), "unknown method"),
    (lambda c: setattr(c.unlearn, "schedule", "linear"), "unlearn.schedule"),
    (lambda c: setattr(c.train, "num_steps", 0), "positive integer"),
    (lambda c: setattr(c.method.mmul, "md_weight", -1.0), ">= 0"),
    (lambda c: c.method.mmul.update(md_weight=0.0, ukr_weight=0.0,
                                    mkr_weight=0.0), "all loss weights"),
    (lambda c: c.update_from_flattened_dict(
        {"method.name": "salun", "method.salun.threshold": 1.5}),
     r"method 'salun': threshold .* \(0, 1\]"),
    (lambda c: c.update_from_flattened_dict(
        {"method.name": "neggrad_plus", "method.neggrad_plus.retain_weight":
         2.0}), r"retain_weight \(β\) must be in \[0, 1\]"),
    (lambda c: c.update_from_flattened_dict(
        {"method.name": "scrub", "method.scrub.max_steps": 30}),
     "max_steps <= period"),
    (lambda c: c.update_from_flattened_dict(
        {"method.name": "dtd", "unlearn.weight_decay": 0.0}),
     "needs unlearn.weight_decay > 0"),
    (lambda c: c.update_from_flattened_dict(
        {"method.name": "delete", "method.delete.mask_value": 5.0}),
     "mask_value must be a negative number"),
    (lambda c: setattr(c.model, "image_size", 64), "data.image_size"),
    (lambda c: c.update_from_flattened_dict(
        {"method.name": "salun", "unlearn.lora_rank": 4}),
     "cannot train LoRA adapters"),
    (lambda c: setattr(c.unlearn, "curriculum", "superloss"),
     "'mmul' does not train on the task loss"),
    (lambda c: setattr(c.benchmark, "methods", ("mmul", "forgetful")),
     r"benchmark.methods: unknown method\(s\) \['forgetful'\]"),
    # What --config.K=V overrides produce from bad command-line values.
    (lambda c: setattr(c.eval, "recall_ks", ("(1,abc)",)),
     "eval.recall_ks must be a non-empty tuple of positive integers"),
    (lambda c: setattr(c.eval, "recall_ks", (1, 2.5)), "eval.recall_ks"),
    (lambda c: setattr(c.benchmark, "ratios", ("(nan,)",)),
     "benchmark.ratios must be percentages"),
    (lambda c: setattr(c.benchmark, "ratios", (float("nan"),)),
     r"benchmark.ratios = \(nan,\) is not a finite number"),
    (lambda c: setattr(c.benchmark, "seeds", (0, "x")), "benchmark.seeds"),
    (lambda c: setattr(c.data, "mean", (0.5, 0.5)),
     r"data.mean must be 3 numbers .*\(0.5, 0.5\)"),
    (lambda c: setattr(c.data, "std", (0.2, 0.0, 0.2)), "data.std must be > 0"),
    (lambda c: setattr(c.train, "learning_rate", float("nan")),
     "train.learning_rate = nan is not a finite number"),
    (lambda c: setattr(c.unlearn, "learning_rate", float("inf")),
     "unlearn.learning_rate = inf is not a finite number"),
    (lambda c: setattr(c.method.mmul, "md_weight", float("inf")),
     "method.mmul.md_weight = inf is not a finite number"),
    (lambda c: setattr(c.parallel, "param_sharding", "zero3"),
     "parallel.param_sharding"),
    (lambda c: c.update_from_flattened_dict(
        {"data.name": "tone_commands", "method.name": "finetune",
         "model.sample_rate": 16000}),
     r"model.sample_rate \(16000\) must be tone_commands's rate, 8000 Hz"),
    (lambda c: c.update_from_flattened_dict(
        {"data.name": "moving_shapes", "method.name": "finetune",
         "data.num_frames": 7}),
     r"data.num_frames \(7\) must be a multiple of model.tubelet_size"),
    (lambda c: c.update_from_flattened_dict(
        {"data.name": "reviews", "method.name": "mmul"}),
     "MMUL needs two modalities"),
    (lambda c: c.distributed.update(coordinator_address="localhost:1234",
                                    num_processes=2, process_id=2),
     r"distributed.process_id \(2\) must be in 0..1"),
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


def test_every_method_validates_with_its_defaults():
  from mmul_jax import methods
  for name in methods.METHODS:
    config_schema.validate(config_schema.default_config_for(name))


def test_language_model_methods_are_refused_on_other_tasks():
  c = config_schema.default_config()
  c.method.name = "simnpo"
  with pytest.raises(errors.ConfigError, match="method 'simnpo': runs on "
                     "generation and image_generation tasks only, not "
                     "retrieval"):
    config_schema.validate(c)


def test_missing_method_hyperparameter_is_named():
  c = config_schema.default_config()
  c.method.name = "scrub"
  del c.method.scrub["temperature"]
  with pytest.raises(errors.ConfigError, match="method 'scrub' needs "
                     "hyperparameter method.scrub.temperature"):
    config_schema.validate(c)


def test_other_methods_hyperparameters_may_be_left_out():
  c = config_schema.default_config()
  del c.method["salun"]
  config_schema.validate(c)  # mmul is selected; salun's keys are not needed


def test_random_labels_need_a_labelled_dataset():
  c = config_schema.default_config()
  c.method.name = "randlabel"
  c.method.randlabel.target = "labels"
  with pytest.raises(errors.ConfigError, match="method 'randlabel' needs "
                     "labels, which dataset 'shapes_captions' does not have"):
    config_schema.validate(c)


@pytest.mark.parametrize("dataset", ["tofu", "samsum", "celeb_profile"])
def test_the_text_generation_config_takes_each_dataset(dataset):
  path = os.path.join(CONFIG_DIR, "text_generation.py")
  c = _load(path, f"dataset={dataset},forget=1")
  config_schema.validate(c)
  assert c.data.name == dataset and c.model.arch == "llama"
  assert bool(c.deletion.mubench_file) == (dataset == "tofu")
  if dataset == "tofu":
    assert c.unlearn.df_batch_size == 2  # forget01: two authors
  with pytest.raises(errors.ConfigError, match="dataset='imdb': use one of"):
    _load(path, "dataset=imdb")


def test_the_text_generation_config_takes_a_t5_model():
  path = os.path.join(CONFIG_DIR, "text_generation.py")
  c = _load(path, "dataset=samsum,arch=t5")
  config_schema.validate(c)
  assert c.model.arch == "t5" and c.unlearn.lora_targets == ("q", "v")


@pytest.mark.parametrize("dataset", ["clear", "mllmu_bench"])
def test_the_image_generation_config_takes_each_dataset(dataset):
  path = os.path.join(CONFIG_DIR, "image_generation.py")
  c = _load(path, f"dataset={dataset},forget=5")
  config_schema.validate(c)
  assert c.data.name == dataset and c.model.arch == "llava"
  assert "{image}" in c.data.prompt_template
  assert bool(c.deletion.mubench_file) == (dataset == "clear")
  assert c.unlearn.df_batch_size == 10  # forget05: ten persons
  with pytest.raises(errors.ConfigError, match="dataset='tofu': use one of"):
    _load(path, "dataset=tofu")

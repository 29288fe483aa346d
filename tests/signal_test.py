"""Does unlearning move what it should? One small embedded run per task
kind, seeded, whose models the module's tests share:

* the retrained model separates Df from Dr: its Df-vs-Dr AUC is above the
  original's by at least `margin` (the embedded datasets' membership
  signal survives the small run);
* a method moves that AUC at least `fraction` of the way from the
  original's to the retrained model's (MMUL on the multimodal kinds; on
  the unimodal kind, where MMUL is refused, fine-tuning on Dr), without
  losing more than `max_drop` points of its test score;
* a method that changes nothing (a test double registered for the test)
  fails that check: these tests would catch a change that made unlearning
  a no-op.

The thresholds are set well inside what the runs gave on this project's
machines over three seeds (docs/experiments/issues_21_39.md, issue 38),
since float results,
and with them the short training runs, differ a little between CPUs.
"""

import dataclasses

import ml_collections
import pytest

from mmul_jax import methods
from mmul_jax.methods import terms
from mmul_jax.unlearn import run as run_lib


@dataclasses.dataclass(frozen=True)
class Kind:
  dataset: str
  method: str
  auc: str  # the AUC the task reports first
  score: str  # the test score that must not drop more than max_drop
  steps: int  # training steps of the original and the retrained model
  unlearn_steps: int
  margin: float
  fraction: float
  max_drop: float
  settings: tuple = ()


KINDS = {
    "retrieval": Kind(
        "shapes_captions", "mmul", "auc/cosine", "test/itc/r1_mean",
        steps=150, unlearn_steps=30, margin=0.15, fraction=0.2,
        max_drop=10.0,
        settings=(("method.mmul.ukr_weight", 10.0),
                  ("method.mmul.mkr_weight", 10.0))),
    "classification": Kind(
        "shapes_ve", "mmul", "auc/p_true", "test/accuracy",
        steps=400, unlearn_steps=60, margin=0.06, fraction=0.2,
        max_drop=15.0),
    "unimodal_classification": Kind(
        "reviews", "finetune", "auc/p_true", "test/accuracy",
        steps=300, unlearn_steps=50, margin=0.15, fraction=0.2,
        max_drop=10.0),
    # TOFU's stand-in on a tiny Llama-layout model, NPO with its retain
    # term; forget quality is checked below too (seeds 0-2 gave margins
    # 0.46-0.52, progress 56-66 %, drops 0.1-2.8 points, the original's
    # forget quality 0.0002-0.11: docs/generation.md).
    "generation": Kind(
        "authors", "npo", "auc/p_answer", "test/rougeL_recall",
        steps=300, unlearn_steps=20, margin=0.3, fraction=0.3,
        max_drop=10.0,
        settings=(("model.arch", "llama"), ("model.kv_heads", 2),
                  ("model.text_width", 64), ("data.prompt_length", 16),
                  ("data.answer_length", 24),
                  ("train.learning_rate", 3e-3))),
    "graph_text": Kind(
        "molecule_text", "mmul", "auc/cosine", "test/itc/r1_mean",
        steps=400, unlearn_steps=60, margin=0.2, fraction=0.2,
        max_drop=12.0,
        settings=(("data.max_atoms", 0), ("data.max_edges", 0),
                  ("model.vocab_size", 512), ("model.context_length", 24),
                  ("model.graph_width", 32), ("model.graph_layers", 2),
                  ("method.mmul.ukr_weight", 15.0),
                  ("method.mmul.mkr_weight", 3.0))),
}

# The test double: no loss, no optimiser update, one step.
NOOP = methods.Method(
    build=lambda ctx: methods.Plan(loss=terms.zero(), optimizer="none",
                                   num_steps=1))


def config(tiny_config, data_dir, kind: Kind, method: str):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = kind.dataset
  c.data.num_train, c.data.num_test = 200, 50
  c.deletion.ratio = 10.0  # 20 units: the AUC's 5 Dr samples hold 100
  c.eval.auc_num_samples = 5
  c.train.batch_size = 32
  c.train.num_steps = kind.steps
  c.train.warmup_steps = 30
  c.train.checkpoint_every = c.train.log_every = kind.steps
  c.unlearn.num_steps = kind.unlearn_steps
  c.unlearn.learning_rate = 3e-4
  c.unlearn.df_batch_size, c.unlearn.dr_batch_size = 16, 32
  c.unlearn.checkpoint_every = c.unlearn.log_every = kind.unlearn_steps
  c.tensorboard = False
  for key, value in kind.settings:
    *path, leaf = key.split(".")
    node = c
    for part in path:
      node = node[part]
    node[leaf] = value
  c.method.name = method
  if method not in c.method:
    c.method[method] = ml_collections.ConfigDict()
  return c


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
  """One workdir per kind: its original and retrained models are trained
  by the first test that needs them and reused by the others."""
  return {k: str(tmp_path_factory.mktemp(k)) for k in KINDS}


@pytest.fixture(scope="module")
def method_results(workdirs, tiny_config, data_dir):
  cache = {}

  def get(name):
    if name not in cache:
      kind = KINDS[name]
      cache[name] = run_lib.run(
          config(tiny_config, data_dir, kind, kind.method), workdirs[name])
    return cache[name]

  return get


def auc(results, model: str, kind: Kind) -> float:
  return results.models[model].metrics[f"{kind.auc}/mean"]


def check_moves(results, kind: Kind) -> None:
  """The method moved the AUC `fraction` of the way, keeping its test
  score within `max_drop` points of the original's."""
  progress = results.summary[f"progress/{kind.auc}"]
  assert progress is not None and progress >= kind.fraction, (
      f"{results.method} moved {kind.auc} {progress} of the way to the "
      f"retrained model; at least {kind.fraction} expected")
  drop = (results.models["original"].metrics[kind.score]
          - results.models[results.method].metrics[kind.score])
  assert drop <= kind.max_drop, (results.method, kind.score, drop)


# Molecule-text (about 100 s) and image-text classification (about 70 s)
# are the longest kinds: they run in the slow suite, which keeps the
# default one under 20 minutes (the fake NLVR2 and SNLI-VE downloads run
# the classification kind end to end there, tests/real_data_run_test.py).
SLOW_KINDS = ("graph_text", "classification")
NAMES = [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_KINDS else n
         for n in sorted(KINDS)]


@pytest.mark.parametrize("name", NAMES)
def test_the_retrained_model_separates_df_from_dr(name, method_results):
  kind = KINDS[name]
  results = method_results(name)
  assert results.task == name
  gap = auc(results, "retrained", kind) - auc(results, "original", kind)
  assert gap >= kind.margin, (name, auc(results, "original", kind),
                              auc(results, "retrained", kind))


@pytest.mark.parametrize("name", NAMES)
def test_the_method_moves_the_auc_towards_retraining(name, method_results):
  check_moves(method_results(name), KINDS[name])


@pytest.mark.parametrize("name", NAMES)
def test_a_method_that_does_nothing_fails_the_check(
    name, method_results, workdirs, tiny_config, data_dir, monkeypatch):
  kind = KINDS[name]
  method_results(name)  # the shared models, trained once
  monkeypatch.setitem(methods.METHODS, "noop", NOOP)
  results = run_lib.run(config(tiny_config, data_dir, kind, "noop"),
                        workdirs[name])
  assert results.models["noop"].metrics[f"{kind.auc}/mean"] == (
      pytest.approx(auc(results, "original", kind), abs=1e-9))
  with pytest.raises(AssertionError, match="of the way"):
    check_moves(results, kind)


def test_forget_quality_tells_the_original_from_retraining(method_results):
  """TOFU's forget quality: the original's Df truth ratios differ from the
  retrained model's (KS p-value far below 1), the retrained model's own
  is 1 (issue 43's signal check)."""
  results = method_results("generation")
  fq = {k: m.metrics["forget_quality"] for k, m in results.models.items()}
  assert fq["retrained"] == 1.0
  assert fq["original"] < 0.5, fq

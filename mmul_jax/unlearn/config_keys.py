"""The `unlearn.*`, `shadow.*` and `benchmark.*` config keys: default, doc
and check."""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax import methods
from mmul_jax.config_keys import Check
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import NONNEGATIVE
from mmul_jax.config_keys import POSITIVE_INT
from mmul_jax.config_keys import STRINGS
from mmul_jax.config_keys import Section
from mmul_jax.config_keys import int_at_least
from mmul_jax.config_keys import is_int
from mmul_jax.config_keys import is_number
from mmul_jax.config_keys import one_of
from mmul_jax.config_keys import positive_ints
from mmul_jax.data import config_keys as data_keys
from mmul_jax.data import datasets

_EVERY = Check(lambda v: is_int(v) and v >= 0,
               "{key} must be an integer >= 0, got {value!r}")


def _stopping(config) -> None:
  u = config.unlearn
  if u.early_stopping != "none" and not u.eval_every:
    raise errors.ConfigError(
        f"unlearn.early_stopping = {u.early_stopping!r} needs "
        "unlearn.eval_every > 0 (how often the unlearned model is "
        "evaluated)")
  if u.patience and u.early_stopping == "none":
    raise errors.ConfigError("unlearn.patience stops by "
                             "unlearn.early_stopping's rule; set "
                             "unlearn.early_stopping = \"retrain_gap\"")


def _forget_types(config) -> None:
  from mmul_jax.data.core import qa  # pylint: disable=g-import-not-at-top
  kinds = tuple(config.unlearn.forget_question_types)
  if not kinds:
    return
  unknown = sorted(set(kinds) - set(qa.QUESTION_TYPES))
  if unknown:
    raise errors.ConfigError(
        f"unlearn.forget_question_types: unknown {unknown}; the types are "
        f"{list(qa.QUESTION_TYPES)}")
  task = datasets.spec_of(config.data).task
  if task != "image_generation":
    raise errors.ConfigError(
        "unlearn.forget_question_types picks deleted pairs by question "
        f"type, which image-conditioned generation datasets have; "
        f"{config.data.name} is a {task} dataset: leave it empty")


UNLEARN = Section("unlearn", {
    "num_steps": Key(100, "unlearning steps", POSITIVE_INT),
    "df_batch_size": Key(32, "deleted examples per step", POSITIVE_INT),
    "dr_batch_size": Key(64, "retained examples per step", POSITIVE_INT),
    "learning_rate": Key(1e-4, "AdamW (or the method's optimiser)",
                         NONNEGATIVE),
    "warmup_steps": Key(0, "linear warm-up steps", NONNEGATIVE),
    "schedule": Key("constant", "`constant` or `cosine`",
                    one_of(("constant", "cosine"))),
    "weight_decay": Key(0.05, "AdamW decay, on matrices only", NONNEGATIVE),
    "grad_clip_norm": Key(1.0, "global gradient-norm clip", NONNEGATIVE),
    "curriculum": Key("none", "`superloss`: weight each example's task loss "
                      "by its SuperLoss confidence (easy first; MU-Bench's "
                      "curriculum), for the methods that train on it",
                      one_of(("none", "superloss"))),
    "superloss_lambda": Key(10.0, "SuperLoss's regulariser, > 0",
                            Check(lambda v: v > 0, "{key} must be > 0")),
    "lora_rank": Key(0, "LoRA: train rank-r adapters on every 2-D kernel "
                     "instead of all weights; 0: all weights (not with "
                     "salun, fisher, dtd)",
                     int_at_least(0, "0: train every weight")),
    "lora_alpha": Key(16.0, "LoRA adapters are scaled by alpha / rank; 0: "
                      "by 1 (PEFT's lora_alpha = r, MU-Bench's)",
                      NONNEGATIVE),
    "lora_fraction": Key(0.0, "LoRA: the rank that makes this fraction of "
                         "the weights trainable (MU-Bench's 0.1, 0.2, 0.5; "
                         "rank uncapped) instead of `lora_rank`; 0: off",
                         Check(lambda v: isinstance(v, (int, float))
                               and 0 <= v < 1, "{key} must be in [0, 1), "
                               "got {value!r}")),
    "lora_targets": Key((), "LoRA: adapt only the 2-D kernels of modules "
                        "with these names (MU-Bench's: `query`, `value` or "
                        "`q_proj`, `v_proj`); empty: every 2-D kernel",
                        STRINGS),
    "lora_full": Key((), "LoRA: modules with these names trained whole "
                     "beside the adapters (MU-Bench's `classifier`)",
                     STRINGS),
    "second_order": Key("none", "`sophia`: SOUL, SophiaG in place of the "
                        "method's optimiser (clipped second-order steps)",
                        one_of(("none", "sophia"))),
    "sophia_betas": Key((0.9, 0.95), "SophiaG's decays of m and h",
                        Check(lambda v: isinstance(v, (tuple, list))
                              and len(v) == 2 and all(
                                  is_number(b) and 0 <= b < 1 for b in v),
                              "{key} must be two numbers in [0, 1), got "
                              "{value!r}")),
    "sophia_rho": Key(0.04, "SophiaG's clipping scale: the step is |m| / "
                      "(rho * batch * h), clipped to 1",
                      Check(lambda v: is_number(v) and v > 0,
                            "{key} must be a number > 0, got {value!r}")),
    "sophia_batch_size": Key(5120, "the batch size SophiaG scales h by",
                             POSITIVE_INT),
    "checkpoint_every": Key(50, "steps between checkpoints", POSITIVE_INT),
    "log_every": Key(10, "steps between logged metrics", POSITIVE_INT),
    "eval_every": Key(0, "evaluate Df, Dr (and validation) during "
                      "unlearning every N steps, in the record and "
                      "TensorBoard; 0: off", _EVERY),
    "eval_units": Key(64, "units of Df (and validation) evaluated then; Dr: "
                      "eval.auc_num_samples times as many", POSITIVE_INT),
    "early_stopping": Key("none", "`retrain_gap`: return the evaluated step "
                          "closest to the retrained model on those sets (no "
                          "test data)", one_of(("none", "retrain_gap"))),
    "patience": Key(0, "> 0: stop after this many evaluations without a "
                    "closer one", _EVERY),
    "forget_question_types": Key(
        (), "image-conditioned generation: the deleted pairs the "
        "unlearning batches draw, by question type (`name`, `image`, "
        "`both`, `general`); empty: all. Evaluation reads every type "
        "(does forgetting one modality reach the others?)", STRINGS),
}, rules=(_stopping, _forget_types))

# scripts/shadow.py's K models per kind, trained and unlearned together.
SHADOW = Section("shadow", {
    "num_models": Key(8, "K models of each kind (original, retrained, each "
                      "method; seeds seed .. seed + K - 1) under `jax.vmap`",
                      POSITIVE_INT),
    "methods": Key(("finetune",), "the methods whose K unlearned models the "
                   "leakage audit compares to the K retrained ones"),
    "ulira_ddof": Key(1, "U-LiRA's variance: 1 the unbiased estimate over a "
                      "side's K - 1 models, 0 LiRA's maximum likelihood",
                      one_of((1, 0))),
    "deletion_sets": Key("shared", "`shared`: every shadow pair forgets the "
                         "run's Df; `per_model`: each its own half of a "
                         "pool of Df and as many Dr units (Hayes et al.), "
                         "U-LiRA per example over the pairs that forgot it",
                         one_of(("shared", "per_model"))),
})


SEQUENTIAL = Section("sequential", {
    "requests": Key(3, "scripts/sequential.py: Df cut into this many "
                    "deletion requests, each unlearned from the model the "
                    "last one left (at least 2)",
                    int_at_least(2, "one request is a plain run")),
})


_NONEMPTY_TUPLE = Check(
    lambda v: isinstance(v, (tuple, list)) and len(v) > 0,
    "{key} must be a non-empty tuple")


def _known(config) -> None:
  b = config.benchmark
  from mmul_jax import recipes  # pylint: disable=g-import-not-at-top
  for name in b.datasets:  # "<dataset>" or "<dataset>@<backbone>"
    why = recipes.check_task_name(name, datasets.DATASETS)
    if why:
      raise errors.ConfigError(
          f"benchmark.datasets: {name!r}: {why}; datasets: "
          f"{sorted(datasets.DATASETS)}")
  unknown = set(b.methods) - set(methods.METHODS)
  if unknown:
    raise errors.ConfigError(
        f"benchmark.methods: unknown method(s) {sorted(unknown)}; "
        f"available: {sorted(methods.METHODS)}")
  strategies = data_keys.DELETION.keys["strategy"].check.allowed
  bad = set(b.strategies) - set(strategies)
  if bad:
    raise errors.ConfigError(f"benchmark.strategies: {sorted(bad)} not in "
                             f"{list(strategies)}")


# scripts/benchmark.py: the grid of methods x deletion sets x seeds (and
# model widths, and datasets).
BENCHMARK = Section("benchmark", {
    "methods": Key(("mmul", "finetune", "neggrad"), "the grid's methods",
                   _NONEMPTY_TUPLE),
    "ratios": Key((5.0,), "the grid's deletion ratios, percentages in "
                  "(0, 100)", Check(
                      lambda v: isinstance(v, (tuple, list)) and v and all(
                          is_number(r) and 0 < r < 100 for r in v),
                      "{key} must be percentages in (0, 100), got "
                      "{value!r}")),
    "seeds": Key((0,), "the grid's seeds", Check(
        lambda v: isinstance(v, (tuple, list)) and v and all(
            is_int(x) for x in v),
        "{key} must be a non-empty tuple of integers, got {value!r}")),
    "strategies": Key(("uniform",), "the grid's Df strategies "
                      "(`deletion.strategy`)", _NONEMPTY_TUPLE),
    "model_widths": Key((), "tower widths (vision, text, fusion); empty: "
                        "the model as configured", Check(
                            lambda v: isinstance(v, (tuple, list)) and (
                                not v or positive_ints(v)),
                            "{key} must be positive integers, got "
                            "{value!r}")),
    "settings": Key((), "per-method changes, `\"name: key=value, "
                    "key=value\"`", STRINGS),
    "robustness": Key(False, "after each cell, its robustness check "
                      "(`robustness.*` attacks; scripts/robustness.py): the "
                      "leaderboard gains a recovery column per attack",
                      Check(lambda v: isinstance(v, bool),
                            "{key} must be true or false, got {value!r}")),
    "tuned": Key("", "a `tuned.json` of scripts/tune.py: every cell of a "
                 "method it holds runs at its tuned setting (then "
                 "`benchmark.settings` apply)",
                 Check(lambda v: isinstance(v, str),
                       "{key} must be a path (a string), got {value!r}")),
    "datasets": Key((), "a grid across datasets, each from its recipe "
                    "(`recipes.mubench_task`), or `dataset@backbone` from "
                    "the backbone's (`recipes.BACKBONE_RECIPES`: "
                    "`cifar100@resnet-50`); empty: `data.name` only",
                    STRINGS),
    "dataset_settings": Key((), "per-dataset changes after its recipe, "
                            "`\"dataset: key=value, ...\"`", STRINGS),
}, rules=(_known,))

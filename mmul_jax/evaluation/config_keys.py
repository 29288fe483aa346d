"""The `eval.*` config keys: default, doc and check."""

from __future__ import annotations

from mmul_jax.config_keys import Check
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import POSITIVE_INT
from mmul_jax.config_keys import Section
from mmul_jax.config_keys import int_at_least
from mmul_jax.config_keys import positive_ints

EVAL = Section("eval", {
    "batch_size": Key(256, "units per evaluation batch", POSITIVE_INT),
    "recall_ks": Key((1, 5, 10), "the k of recall@k", Check(
        positive_ints, "{key} must be a non-empty tuple of positive "
        "integers, got {value!r}")),
    "auc_num_samples": Key(5, "disjoint Dr samples of size |Df| for the "
                           "Df-vs-Dr AUC", POSITIVE_INT),
    "max_dr_images": Key(-1, "evaluate this many Dr units (seeded by "
                         "`auc_seed`); 0: all; -1: `auc_num_samples` x "
                         "|Df|, the pool of the AUC's samples (real "
                         "datasets need a cap: each is held in memory)",
                         int_at_least(-1, "0: every retained image; -1: "
                                      "eval.auc_num_samples x |Df|, what "
                                      "the AUC reads")),
    "auc_seed": Key(0, "the seed of the Dr samples"),
    "rerank_k": Key(16, "re-rank each query's top k by the matching head; "
                    "0: off", int_at_least(0, "0 turns re-ranking off")),
    "sample_steps": Key(20, "text-to-image: DDIM steps per generated "
                        "image", POSITIVE_INT),
    "guidance": Key(3.0, "text-to-image: the classifier-free guidance "
                    "weight (1: the caption alone)", Check(
                        lambda v: isinstance(v, (int, float)) and v >= 0,
                        "{key} must be a number >= 0, got {value!r}")),
    "num_generated": Key(64, "text-to-image: pairs of each set drawn from "
                         "their captions for the judge's metrics (seeded "
                         "by `auc_seed`; the denoising losses read every "
                         "pair)", POSITIVE_INT),
    "judges": Key(True, "text-to-image: train the dataset's judge "
                  "classifier / dual encoder once per run and report their "
                  "accuracy, Fréchet distance and cosine "
                  "(`evaluation.judges`)"),
    "judge_steps": Key(0, "text-to-image: the judges' training steps (0: "
                       "their dataset's recipe)",
                       int_at_least(0, "0: the recipe's")),
    "extra_metrics": Key((), "metric families run besides the task's own "
                         "(`evaluation.evaluators.EVALUATORS`, e.g. "
                         "`(\"example_scores\",)`); the task's always run",
                         Check(lambda v: isinstance(v, (tuple, list)),
                               "{key} must be a tuple of metric family "
                               "names")),
})

"""The `train.*`, `distributed.*` and `parallel.*` config keys: default,
doc and check."""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax.config_keys import Key
from mmul_jax.config_keys import NONNEGATIVE
from mmul_jax.config_keys import POSITIVE_INT
from mmul_jax.config_keys import Section
from mmul_jax.config_keys import one_of

# Training of the original model on D and of the retrained model on Dr.
TRAIN = Section("train", {
    "batch_size": Key(64, "units per step of the original and retrained "
                      "models", POSITIVE_INT),
    "num_steps": Key(500, "training steps (the demo's speed on 2 cores)",
                     POSITIVE_INT),
    "learning_rate": Key(1e-3, "AdamW, warm-up then cosine", NONNEGATIVE),
    "warmup_steps": Key(100, "linear warm-up steps", NONNEGATIVE),
    "end_learning_rate_ratio": Key(0.05, "the cosine decays to learning_rate "
                                   "x this"),
    "weight_decay": Key(0.05, "AdamW decay, on matrices only", NONNEGATIVE),
    "grad_clip_norm": Key(1.0, "global gradient-norm clip", NONNEGATIVE),
    "itm_weight": Key(1.0, "weight of the matching loss (the contrastive "
                      "loss has 1)", NONNEGATIVE),
    "checkpoint_every": Key(200, "steps between checkpoints", POSITIVE_INT),
    "log_every": Key(50, "steps between logged metrics", POSITIVE_INT),
})


def _process_id(config) -> None:
  d = config.distributed
  if d.coordinator_address and d.coordinator_address != "auto" and not (
      isinstance(d.process_id, int) and 0 <= d.process_id < d.num_processes):
    raise errors.ConfigError(
        f"distributed.process_id ({d.process_id}) must be in "
        f"0..{d.num_processes - 1} (distributed.num_processes)")


# Several processes (hosts) in one job.
DISTRIBUTED = Section("distributed", {
    "coordinator_address": Key("", "multi-process job: `host:port` of "
                               "process 0 (every process given the same), "
                               "`auto` (detected by JAX: TPU pods, SLURM, "
                               "Open MPI); empty: one process"),
    "num_processes": Key(1, "with a `host:port` address: the job's size",
                         POSITIVE_INT),
    "process_id": Key(0, "with a `host:port` address: this process's id"),
}, rules=(_process_id,))

# How parameters are laid out over the devices' mesh.
PARALLEL = Section("parallel", {
    "param_sharding": Key("replicated", "`replicated`, or `fsdp`: large "
                          "arrays (with their optimiser state and the "
                          "frozen model) split over the devices",
                          one_of(("replicated", "fsdp"))),
    "fsdp_min_size": Key(2 ** 16, "with `fsdp`: arrays with at least this "
                         "many elements are split", POSITIVE_INT),
})

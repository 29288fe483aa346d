"""MU-Bench's scalability analysis on the embedded task: cost and quality
of MMUL, fine-tuning and NegGrad vs the deletion ratio and vs the model
size (tower widths 32, 64 and 128; 4 heads each).

  python scripts/benchmark.py --config=configs/bench_scaling.py

The leaderboard's "unlearn s" column and the seconds panel of
metric_vs_ratio_w*.png give the cost; one plot per width.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()  # the demo's task, as in bench_demo.py
  c.unlearn.num_steps = 100
  c.unlearn.learning_rate = 3e-4
  c.method.mmul.update(md_weight=1.0, ukr_weight=30.0, mkr_weight=30.0)
  c.benchmark.methods = ("mmul", "finetune", "neggrad")
  c.benchmark.ratios = (2.0, 5.0, 10.0)
  c.benchmark.seeds = (0, 1)
  c.benchmark.model_widths = (32, 64, 128)
  return c

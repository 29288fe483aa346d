"""MU-Bench's protocol on the embedded task: 7 methods x 3 deletion ratios
x 3 deletion seeds, a leaderboard and plots.

  python scripts/benchmark.py --config=configs/bench_demo.py

The model, data and training recipe are the demo's (configs/mmul_demo.py),
so the original model is shared with it. Each method runs 100 steps at the
setting `scripts/compare_methods.py` selected for it on the demo (learning
rate 3e-4, Bad Teaching 1e-4; MMUL's weights 1/30/30). The retrained
reference is trained once per (ratio, seed): nine times.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.unlearn.num_steps = 100
  c.unlearn.learning_rate = 3e-4
  c.method.mmul.update(md_weight=1.0, ukr_weight=30.0, mkr_weight=30.0)
  c.benchmark.methods = ("mmul", "finetune", "neggrad", "randlabel", "salun",
                         "scrub", "bad_teaching")
  c.benchmark.ratios = (2.0, 5.0, 10.0)
  c.benchmark.seeds = (0, 1, 2)
  c.benchmark.settings = ("bad_teaching: unlearn.learning_rate=1e-4",)
  return c

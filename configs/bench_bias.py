"""The dataset-bias analysis on the embedded task: the same methods on a
uniform Df and on a class-skewed Df of the same size (every deleted image
has a circle as its first object, `deletion.skew_class=0`).

  python scripts/benchmark.py --config=configs/bench_bias.py

Compare the leaderboard's "uniform Df" and "class_skewed Df" sections.
"""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()  # the demo's task, as in bench_demo.py
  c.unlearn.num_steps = 100
  c.unlearn.learning_rate = 3e-4
  c.method.mmul.update(md_weight=1.0, ukr_weight=30.0, mkr_weight=30.0)
  c.benchmark.methods = ("mmul", "finetune", "neggrad", "randlabel", "salun",
                         "scrub", "bad_teaching")
  c.benchmark.settings = ("bad_teaching: unlearn.learning_rate=1e-4",)
  c.benchmark.ratios = (5.0,)
  c.benchmark.seeds = (0, 1, 2)  # the uniform cells are bench_demo's
  c.benchmark.strategies = ("uniform", "class_skewed")
  c.deletion.skew_class = 0
  return c

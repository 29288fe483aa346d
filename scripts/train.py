"""Train the original model on D, or retrain from scratch on Dr.

  python scripts/train.py --config=configs/mmul_demo.py --model=original
  python scripts/train.py --config=configs/mmul_demo.py --model=retrain

A run that finds its checkpoint in the workdir resumes from it; a finished
one only reports. `unlearn.py` uses the same cache.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

from absl import app
from absl import flags

from mmul_jax import cli
from mmul_jax import experiment
from mmul_jax.unlearn import phases

_ARGS = cli.define_flags()
_MODEL = flags.DEFINE_enum("model", "original", phases.KINDS,
                           "original: train on D; retrain: train on Dr.")


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()

  def go():
    exp = experiment.setup(config, workdir)
    _, info = phases.train_model(exp, _MODEL.value)
    print(f"{_MODEL.value} model: {info['steps']} steps on "
          f"{info['num_images']} images in "
          f"{phases.model_dir(exp, _MODEL.value)}")

  cli.run_or_exit(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

"""Build a config's dataset once and say what it holds, before any run.

  python scripts/prepare.py --config=configs/own_captions.py \
      --config.data.files.train=/data/mine/train.csv \
      --config.data.files.test=/data/mine/test.csv [--workdir=DIR]

For your own tables (`data.name = files`) every bad row is listed first,
one line each; the build then refuses them unless
`data.skip_bad_rows=true`. Prints the summary (units, texts, classes and
their counts, words per text, per split) and writes it with a PNG of a few
training units to WORKDIR/prepared/ (summary.json, samples.png). Works for
every dataset: the downloaded ones stop with their instructions when their
files are absent.
"""

import _interrupts  # noqa: F401  first: a signal from here on is one line

import os

from absl import app
from absl import flags

from mmul_jax import cli
from mmul_jax import config_schema
from mmul_jax import io_utils
from mmul_jax.data import datasets
from mmul_jax.data import summary

_ARGS = cli.define_flags()
_SAMPLES = flags.DEFINE_integer("samples", 8, "Training units in the PNG.")


def main(argv):
  del argv  # cli.parse_flags refused positional arguments
  config, workdir = _ARGS()

  def go():
    config_schema.validate(config)
    datasets.check_available(config.data)
    found = summary.problems(config.data)
    for line in found:
      print(line)
    if found:
      print(f"{len(found)} bad row(s)"
            + (": skipped (data.skip_bad_rows)"
               if config.data.skip_bad_rows else ""))
    builder = datasets.prepare(config.data)
    spec = datasets.spec_of(config.data)
    name = builder.name + (f"/{builder.builder_config.name}"
                           if builder.builder_config else "")
    stats = summary.summarize(builder, spec)
    print(summary.format_summary(name, stats))
    out = os.path.join(workdir, "prepared")
    os.makedirs(out, exist_ok=True)
    io_utils.atomic_write_json(os.path.join(out, "summary.json"),
                               {"dataset": name, "splits": stats,
                                "bad_rows": len(found)})
    png = summary.sample_figure(builder, spec,
                                os.path.join(out, "samples.png"),
                                _SAMPLES.value)
    print(f"wrote {os.path.join(out, 'summary.json')} and {png}")

  cli.run_or_exit(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

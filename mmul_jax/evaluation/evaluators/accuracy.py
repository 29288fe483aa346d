"""Classification accuracy on every set (`<set>/accuracy`, in %)."""

from __future__ import annotations

KINDS = ("classification",)


def metrics(run) -> dict:
  return {name: {"accuracy": 100.0 * float(run.outputs[name]["correct"]
                                           .mean())}
          for name in run.sets}

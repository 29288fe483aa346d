"""Graph-text unlearning end to end: the embedded molecule dataset through
`unlearn.run` on a tiny graph-text model, with MMUL and a baseline."""

import numpy as np
import pytest

from mmul_jax.unlearn import run as run_lib


def _config(tiny_config, data_dir, **changes):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.data.name = "molecule_text"
  c.model.vocab_size = 512
  c.model.context_length = 48
  c.model.graph_width = 32
  c.model.graph_layers = 2
  c.update_from_flattened_dict(changes)
  return c


@pytest.mark.parametrize("method,layer", [
    ("mmul", "gin"),
    pytest.param("scrub", "gat", marks=pytest.mark.slow)])
def test_methods_run_on_the_graph_text_model(tmp_path, tiny_config,
                                             data_dir, method, layer):
  c = _config(tiny_config, data_dir, **{"method.name": method,
                                        "model.graph_layer": layer})
  results = run_lib.run(c, str(tmp_path))
  assert set(results["models"]) == {"original", "retrained", method}
  for m in results["models"].values():
    for split in ("test", "df", "dr"):
      assert 0 <= m[split]["itc"]["r1_mean"] <= 100
      assert 0 <= m[split]["itm"]["r1_mean"] <= 100
    assert 0 <= m["df_vs_dr_auc"]["mean"] <= 1
    assert np.isfinite(m["mubench"]["mia"]["target_non_member_rate"])
  assert results["deletion"]["num_forget_images"] == 8
  assert results["deletion"]["num_forget_pairs"] == 16  # 2 descriptions
  # The graph budgets are part of the data fingerprint.
  assert results["config"]["data"]["max_atoms"] == 32

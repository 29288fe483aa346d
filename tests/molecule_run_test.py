"""Graph-text unlearning end to end: the embedded molecule dataset and the
ChEBI-20 files (tests/fixtures/chebi20) through `unlearn.run` on a tiny
graph-text model, with MMUL and a baseline."""

import json
import os

import numpy as np
import pytest

from mmul_jax import config_schema
from mmul_jax.data.core import tokenizer as tokenizer_lib
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
    pytest.param("mmul", "gin", marks=pytest.mark.slow),
    pytest.param("scrub", "gat", marks=pytest.mark.slow),
    pytest.param("salun", "gin", marks=pytest.mark.slow)])
def test_methods_run_on_the_graph_text_model(tmp_path, tiny_config,
                                             data_dir, method, layer):
  c = _config(tiny_config, data_dir, **{"method.name": method,
                                        "model.graph_layer": layer})
  results = run_lib.run(c, str(tmp_path))
  assert set(results.models) == {"original", "retrained", method}
  assert results.task == "graph_text"
  for m in results.models.values():
    for split in ("test", "df", "dr"):
      assert 0 <= m.metrics[f"{split}/itc/r1_mean"] <= 100
      assert 0 <= m.metrics[f"{split}/itm/r1_mean"] <= 100
    assert 0 <= m.metrics["auc/cosine/mean"] <= 1
    assert np.isfinite(m.metrics["mubench/mia/target_non_member_rate"])
  assert results.deletion.num_forget_units == 8
  assert results.deletion.num_forget_examples == 16  # 2 descriptions
  # The graph budgets are part of the data fingerprint.
  assert results.config["data"]["max_atoms"] == 32


CHEBI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                     "chebi20")


def _chebi_config(tiny_config, tmp_path, **changes):
  return _config(tiny_config, str(tmp_path / "tfds"), **{
      "data.name": "chebi20", "data.manual_dir": CHEBI,
      "deletion.ratio": 20.0, "model.vocab_size": 256,
      "model.context_length": 40, **changes})


@pytest.mark.slow
def test_chebi_runs_with_a_tokenizer_trained_on_its_texts(tmp_path,
                                                          tiny_config):
  c = _chebi_config(tiny_config, tmp_path, **{"data.max_atoms": 0,
                                               "data.max_edges": 0})
  workdir = str(tmp_path / "run")
  results = run_lib.run(c, workdir)
  assert results.deletion.num_forget_units == 6  # 20 % of 30
  # Budgets of 0: the largest molecule's (the test split's, 15 atoms).
  assert results.config["data"]["max_atoms"] == 15
  assert set(results.models) == {"original", "retrained", "mmul"}
  # The WordPiece vocabulary was trained on the training descriptions and
  # kept with the run; its digest is part of the model's fingerprint.
  tok = tokenizer_lib.load(os.path.join(workdir, "tokenizer.json"), 40)
  assert "[UNK]" not in tok.encode("The molecule is a primary alcohol").tokens
  with open(os.path.join(workdir, "original", "fingerprint.json")) as f:
    fingerprint = json.load(f)
  assert fingerprint["model"]["tokenizer_sha256"] == (
      tokenizer_lib.vocabulary_sha256(tok))


def test_oversized_molecules_are_refused_before_any_compute(tmp_path,
                                                            tiny_config):
  c = _chebi_config(tiny_config, tmp_path, **{"data.max_atoms": 8})
  with pytest.raises(config_schema.ConfigError,
                     match=r"--config.data.max_atoms=(\d+) "
                           r"--config.data.max_edges=(\d+)") as e:
    run_lib.run(c, str(tmp_path / "run"))
  assert "data.max_atoms=8" in str(e.value)
  assert not os.path.exists(tmp_path / "run" / "original")

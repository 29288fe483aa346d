"""Shadow deletion sets: the candidate pool is Df plus as many Dr units,
each shadow model forgets its own seeded half of it, the masks say which
pool examples each model forgot (per unit and, through the pairs' owners,
per pair); and (slow suite) the per-model audit end to end on the tiny
model."""

import dataclasses
import json

import numpy as np
import pytest

from mmul_jax.data.core import deletion
from mmul_jax.evaluation import leakage
from mmul_jax.unlearn import shadow_sets


@dataclasses.dataclass
class _Exp:  # what `pool_experiment` reads of an experiment
  deletion: deletion.DeletionSet


def _exp():
  return _Exp(deletion.draw(np.arange(200, 260), ratio=20.0, seed=5,
                            dataset="x"))


def test_the_pool_is_df_and_as_many_dr_units():
  exp = _exp()
  df = exp.deletion
  pool = _pool(exp)
  assert len(pool.forget_ids) == 2 * len(df.forget_ids)
  assert set(df.forget_ids) <= set(pool.forget_ids)
  assert pool.source == "pool" and "pool" in pool.tag
  # Seeded: the same pool every time.
  np.testing.assert_array_equal(_pool(exp).forget_ids, pool.forget_ids)
  lanes = shadow_sets.lanes(pool, (0, 1, 2, 3))
  for d in lanes:
    assert len(d.forget_ids) == len(df.forget_ids)
    assert set(d.forget_ids) <= set(pool.forget_ids)
    # Each model keeps all of D but its own half of the pool.
    assert set(d.retain_ids) == set(df.all_ids) - set(d.forget_ids)
  assert len({tuple(d.forget_ids) for d in lanes}) == 4
  order = pool.forget_ids[::-1]
  m = shadow_sets.mask(pool, lanes, order)
  assert m.shape == (4, len(order)) and m.dtype == bool
  for k, d in enumerate(lanes):
    assert set(order[m[k]]) == set(d.forget_ids)
  # About half the models forgot each pool unit.
  assert 0.3 < m.mean() < 0.7 and m.sum(1).tolist() == [12] * 4


def _pool(exp):
  return shadow_sets.pool_experiment(exp).deletion


def test_a_pair_level_representation_reads_its_units_mask():
  masks = np.asarray([[True, False], [False, True], [True, True]])
  owner = np.asarray([0, 0, 1])
  scores = {"original": {"df": {"caption_owner": np.stack([owner] * 3)}}}
  np.testing.assert_array_equal(leakage.example_mask(masks, scores, 2),
                                masks)
  np.testing.assert_array_equal(
      leakage.example_mask(masks, scores, 3),
      [[True, True, False], [False, False, True], [True, True, True]])
  with pytest.raises(ValueError, match="5 Df examples"):
    leakage.example_mask(masks, scores, 5)


@pytest.mark.slow
def test_per_model_deletion_sets_end_to_end(tmp_path, tiny_config, data_dir):
  from mmul_jax.unlearn import shadow
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.train.num_steps = 4
  c.unlearn.num_steps = 2
  c.shadow.num_models = 6
  c.shadow.methods = ("finetune", "retrain")
  c.method.name = "finetune"
  c.shadow.deletion_sets = "per_model"
  record = shadow.run(c, str(tmp_path))
  assert record["deletion_sets"] == "per_model"
  assert len(record["deletion"]["lanes"]) == 6
  assert record["deletion"]["num_forget_units"] == 16  # 8 Df + 8 Dr
  audit = record["audit"]
  # The retrain "method" is the retrained models themselves, each on its
  # own Dr: every pool example is told apart from retraining at chance.
  for row in audit["retrain"].values():
    assert row["ulira"]["auc"] == pytest.approx(0.5)
  assert 0 < audit["finetune"]["cosine"]["ulira"]["num_examples"] <= 32
  root = next((tmp_path / "shadow").glob("6x-*")) / "per_model"
  masks = np.load(root / shadow.MASKS_FILE)["mask"]
  assert masks.shape == (6, 16) and masks.sum(1).tolist() == [8] * 6
  # Each retrained model trained on D minus its own half of the pool.
  info = next((tmp_path / "shadow").glob("6x-*/retrain/*pool*/train_info"
                                         ".json"))
  assert json.loads(info.read_text())["lane_num_images"] == [72] * 6
  audited, _ = shadow.rescore(str(root / shadow.SCORES_FILE),
                              auc_num_samples=c.eval.auc_num_samples)
  assert audited["finetune"]["cosine"]["ulira"]["auc"] == pytest.approx(
      audit["finetune"]["cosine"]["ulira"]["auc"])

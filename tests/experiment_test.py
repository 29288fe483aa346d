"""Experiment setup: how `config.deletion` chooses Df."""

import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax.data.core import pipeline


@pytest.fixture
def make(tiny_builder, data_dir, tiny_config, tmp_path):
  def setup(**deletion):
    c = tiny_config.copy_and_resolve_references()
    c.data.data_dir = data_dir
    c.deletion.update(deletion)
    return experiment.setup(c, str(tmp_path))
  return setup


def test_class_skewed_deletion_takes_one_class(make):
  exp = make(strategy="class_skewed", skew_class=1)
  labels = pipeline.read_column(exp.train.source, "label")
  rows = exp.train.records_for(exp.deletion.forget_ids)
  assert set(labels[rows]) == {1}
  uniform = make()
  assert len(uniform.deletion.forget_ids) == len(exp.deletion.forget_ids)
  assert exp.deletion.tag != uniform.deletion.tag


def test_mubench_file_rows_index_the_train_records(make, tmp_path):
  path = tmp_path / "df.txt"
  path.write_text("5\n17\n2\n40\n33\n8\n60\n11\n79\n0\n")  # 10 of 80 rows
  exp = make(mubench_file=str(path), ratio=8.0)  # first 8 lines
  np.testing.assert_array_equal(
      exp.deletion.forget_ids, exp.train.image_ids[[5, 17, 2, 40, 33, 8, 60,
                                                    11]])
  path.write_text("5\n80\n")
  with pytest.raises(errors.DataError, match="row 80 is out of range"):
    make(mubench_file=str(path), ratio=10.0)


def test_a_training_batch_larger_than_dr_is_refused_at_setup(
    tiny_builder, data_dir, tiny_config, tmp_path):
  c = tiny_config.copy_and_resolve_references()
  c.data.data_dir = data_dir
  c.train.batch_size = 80  # all of D; the retrained model sees 72
  with pytest.raises(errors.ConfigError,
                     match=r"train.batch_size \(80\) exceeds the 72 retained "
                     r"units \(Dr\) the retrained model trains on; lower it "
                     "to at most 72"):
    experiment.setup(c, str(tmp_path))
  c.train.batch_size = 72
  assert len(experiment.setup(c, str(tmp_path)).deletion.retain_ids) == 72

"""A seconds-long run for tests and smoke checks (not meant to learn much)."""

from mmul_jax.config_schema import default_config


def get_config():
  c = default_config()
  c.data.num_train = 80
  c.data.num_test = 20
  c.model.vision_layers = 1
  c.model.text_layers = 1
  c.model.vision_width = 32
  c.model.text_width = 32
  c.model.fusion_width = 32
  c.model.embed_dim = 32
  c.deletion.ratio = 10.0
  c.train.batch_size = 16
  c.train.num_steps = 6
  c.train.warmup_steps = 2
  c.train.checkpoint_every = 3
  c.train.log_every = 2
  c.unlearn.num_steps = 4
  c.unlearn.df_batch_size = 4
  c.unlearn.dr_batch_size = 8
  c.unlearn.checkpoint_every = 2
  c.unlearn.log_every = 2
  c.eval.batch_size = 32
  c.eval.auc_num_samples = 2
  return c
